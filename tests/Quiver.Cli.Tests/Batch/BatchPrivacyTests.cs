using System.Security.Cryptography;
using Quiver.Cli.Tests.Models;
using Quiver.Core.Security;

namespace Quiver.Cli.Tests.Batch;

/// <summary>
/// <c>quiver batch run</c> on a model whose config.json marks its input sensitive: a rejected row's cell reaches the
/// error file as the server's pseudonym (with <c>--pseudonym-key</c>) or not at all, never in clear.
/// </summary>
public sealed class BatchPrivacyTests : IDisposable
{
    private const string Secret = "SECRET-CELL-QUIVER-4417";

    private readonly BatchCliFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task Run_SensitiveInputWithoutKey_LeavesTheValueOutOfTheErrorFile()
    {
        string repository = SensitiveRepository();

        CliRun run = await Run("--model", "mlp", "--model-repository", repository);

        Assert.True(run.ExitCode == 3, run.ToString());
        string errors = File.ReadAllText(_files.Path("out.jsonl.errors.jsonl"));
        Assert.DoesNotContain(Secret, errors);
        Assert.Contains("column 'f1': the value is not a number (input 'input' is FP32; the value is not shown: input 'input' is sensitive)", errors);
        Assert.Contains("\"row\":2", errors);
    }

    [Fact]
    public async Task Run_SensitiveInputWithTheServersKey_WritesTheServersPseudonym()
    {
        string repository = SensitiveRepository();
        byte[] key = RandomNumberGenerator.GetBytes(Pseudonymizer.KeyBytes);
        File.WriteAllBytes(_files.Path("pseudonym.key"), key);

        // The model given as its file in the repository finds the config beside its version folder too.
        CliRun run = await Run("--model", Path.Combine(repository, "mlp", "1", "model.onnx"), "--pseudonym-key", _files.Path("pseudonym.key"));

        Assert.True(run.ExitCode == 3, run.ToString());
        string errors = File.ReadAllText(_files.Path("out.jsonl.errors.jsonl"));
        Assert.DoesNotContain(Secret, errors);
        Assert.Contains($"column 'f1': the value {new Pseudonymizer(key).Pseudonym(Secret)} is not a number (input 'input' is FP32)", errors);
    }

    [Fact]
    public async Task Run_RegistryModelWhoseConfigMarksTheInputSensitive_LeavesTheValueOut()
    {
        string data = _files.Path("data");
        Directory.CreateDirectory(data);
        await using (Core.Registry.IModelRegistry registry = await Core.Registry.ModelRegistry.OpenAsync(Path.Combine(data, "registry.db")))
        {
            var publisher = new Core.Lifecycle.ModelPublisher(registry,
                new Core.Lifecycle.ArtifactVault(Path.Combine(data, "artifacts"), () => null, null), Onnx.OnnxRuntime.Instance);
            await using FileStream content = File.OpenRead(_files.SmallMlp());
            await publisher.PushAsync(content, new Core.Lifecycle.PushRequest
            {
                Model = "scorer", Bundle = Core.Models.ModelBundle.FromConfigJson("""{"sensitive_inputs": ["input"]}"""),
            }, CancellationToken.None);
        }

        CliRun run = await Run("--model", "scorer:1", "--data-dir", data);

        Assert.True(run.ExitCode == 3, run.ToString());
        string errors = File.ReadAllText(_files.Path("out.jsonl.errors.jsonl"));
        Assert.DoesNotContain(Secret, errors);
        Assert.Contains("the value is not shown: input 'input' is sensitive", errors);
    }

    [Fact]
    public async Task Run_PseudonymKeyOfTheWrongSize_IsAUsageError()
    {
        File.WriteAllBytes(_files.Path("short.key"), new byte[8]);

        CliRun run = await Run("--model", "mlp", "--model-repository", SensitiveRepository(), "--pseudonym-key", _files.Path("short.key"));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("is not a pseudonym key", run.Error);
        Assert.False(File.Exists(_files.Path("out.jsonl.errors.jsonl")));
    }

    private Task<CliRun> Run(params string[] args) =>
        ModelsCli.RunAsync(["batch", "run", "--threads", "1", "--input", Input(), "--output", _files.Path("out.jsonl"), .. args]);

    private string SensitiveRepository()
    {
        string repository = _files.Repository("mlp", _files.SmallMlp());
        File.WriteAllText(Path.Combine(repository, "mlp", "config.json"), """{"sensitive_inputs": ["input"]}""");
        return repository;
    }

    private string Input()
    {
        File.WriteAllLines(_files.Path("in.csv"), ["f0,f1,f2,f3", "0.1,0.2,0.3,0.4", "0.5,0.6,0.7,0.8", $"0.1,{Secret},0.3,0.4"]);
        return _files.Path("in.csv");
    }
}
