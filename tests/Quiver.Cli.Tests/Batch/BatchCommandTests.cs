using System.Text.Json;
using Quiver.Cli.Tests.Models;
using Quiver.Onnx;

namespace Quiver.Cli.Tests.Batch;

/// <summary><c>quiver batch run</c> and <c>merge</c> run in-process as Program.cs runs them: arguments, exit codes, messages.</summary>
public sealed class BatchCommandTests : IDisposable
{
    private readonly BatchCliFiles _files = new();

    public void Dispose() => _files.Dispose();

    private Task<CliRun> Run(params string[] args) => ModelsCli.RunAsync(["batch", "run", "--threads", "1", .. args]);

    [Fact]
    public async Task Help_ListsRunAndMerge()
    {
        CliRun run = await ModelsCli.RunAsync("batch", "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("run", run.Output);
        Assert.Contains("merge", run.Output);
    }

    [Fact]
    public async Task Run_AllRowsGood_ExitsZeroWithSummaryAndResultsMatchingPerRowInference()
    {
        string model = _files.SmallMlp();
        string input = _files.Csv("in.csv", 50, 4);

        CliRun run = await Run("--model", model, "--input", input, "--output", _files.Path("out.jsonl"), "--batch-size", "8");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("rows        50", run.Output);
        Assert.Contains("failed      0", run.Output);
        Assert.Contains("rows/s", run.Output);
        using InferenceSession session = InferenceSession.FromFile(model);
        string[] cells = File.ReadLines(input).Skip(1).ToArray();
        string[] lines = File.ReadAllLines(_files.Path("out.jsonl"));
        Assert.Equal(50, lines.Length);
        for (int r = 0; r < 50; r++)
        {
            float[] features = cells[r].Split(',').Select(c => float.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            float[] expected = session.Run([new NamedTensor("input", TensorValue.FromArray([1, 4], features))])[0].AsSpan<float>().ToArray();
            using JsonDocument row = JsonDocument.Parse(lines[r]);
            Assert.Equal(r, row.RootElement.GetProperty("row").GetInt32());
            float[] actual = row.RootElement.GetProperty("probabilities").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            Assert.All(expected.Zip(actual), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-6f, $"row {r}: {p.First} vs {p.Second}"));
        }
    }

    [Fact]
    public async Task Run_RejectedRows_ExitThreeCountedInSummaryAndErrorFile()
    {
        string input = _files.Csv("in.csv", 30, 4, bad: [4, 17]);

        CliRun run = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.csv"));

        Assert.True(run.ExitCode == 3, run.ToString());
        Assert.Contains($"failed      2  → {_files.Path("out.csv.errors.jsonl")}", run.Output);
        Assert.Contains("warning: 2 row(s) rejected", run.Error);
        Assert.Equal(29, File.ReadAllLines(_files.Path("out.csv")).Length);
        Assert.Equal(
            [
                "{\"row\":4,\"line\":6,\"reason\":\"column 'f1': 'oops' is not a number (input 'input' is FP32)\"}",
                "{\"row\":17,\"line\":19,\"reason\":\"column 'f1': 'oops' is not a number (input 'input' is FP32)\"}",
            ],
            File.ReadAllLines(_files.Path("out.csv.errors.jsonl")));
    }

    [Fact]
    public async Task Run_ErrorsOption_WritesThere()
    {
        string input = _files.Csv("in.csv", 5, 4, bad: [0]);

        CliRun run = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.jsonl"), "--errors", _files.Path("bad.jsonl"));

        Assert.Equal(3, run.ExitCode);
        Assert.Single(File.ReadAllLines(_files.Path("bad.jsonl")));
    }

    [Fact]
    public async Task Run_MaxErrorsExceeded_ExitsOne()
    {
        string input = _files.Csv("in.csv", 20, 4, bad: [1, 2, 3]);

        CliRun run = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.jsonl"), "--max-errors", "2");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("error: 3 rows failed, more than --max-errors 2 allows", run.Error);
    }

    [Fact]
    public async Task Run_RejectedRowsWithinMaxErrors_ExitsZeroWithAWarning()
    {
        string input = _files.Csv("in.csv", 20, 4, bad: [1, 2]);

        CliRun run = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.jsonl"), "--max-errors", "2");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("failed      2", run.Output);
        Assert.Contains("warning: 2 row(s) rejected", run.Error);
    }

    [Fact]
    public async Task Run_ModelByNameFromRepository_UsesTheLatestVersion()
    {
        string repository = _files.Repository("scorer", _files.SmallMlp());

        CliRun run = await Run("--model", "scorer", "--model-repository", repository, "--input", _files.Csv("in.csv", 3, 4), "--output", _files.Path("out.jsonl"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("scorer:1", BatchCheckpointModel(_files.Path("out.jsonl")));
    }

    [Fact]
    public async Task Run_ModelByAliasFromRegistry_UsesTheAliasedVersion()
    {
        string data = _files.Path("data");
        Directory.CreateDirectory(data);
        await using (Core.Registry.IModelRegistry registry = await Core.Registry.ModelRegistry.OpenAsync(Path.Combine(data, "registry.db")))
        {
            var publisher = new Core.Lifecycle.ModelPublisher(registry,
                new Core.Lifecycle.ArtifactVault(Path.Combine(data, "artifacts"), () => null, null), OnnxRuntime.Instance);
            foreach (int seed in new[] { 1, 2 })
            {
                await using FileStream content = File.OpenRead(_files.SmallMlp($"v{seed}.onnx", seed));
                await publisher.PushAsync(content, new Core.Lifecycle.PushRequest { Model = "scorer", Force = true }, CancellationToken.None);
            }

            await registry.SetAliasAsync("scorer", "champion", 1, "test");
        }

        CliRun run = await Run("--model", "scorer@champion", "--data-dir", data, "--input", _files.Csv("in.csv", 3, 4), "--output", _files.Path("out.jsonl"));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("scorer:1", BatchCheckpointModel(_files.Path("out.jsonl")));
    }

    [Fact]
    public async Task Run_Map_PicksAndOrdersColumns()
    {
        string input = _files.Csv("in.csv", 3, 6);

        CliRun run = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.jsonl"), "--map", "input=f5,f4,f3,f2");

        Assert.True(run.ExitCode == 0, run.ToString());
    }

    [Theory]
    [InlineData("3/2")]
    [InlineData("0/0")]
    [InlineData("x")]
    public async Task Run_BadShardSpec_IsAUsageError(string spec)
    {
        CliRun run = await Run("--model", _files.SmallMlp(), "--input", _files.Csv("in.csv", 3, 4), "--output", _files.Path("out.jsonl"), "--shard", spec);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"error: --shard '{spec}'", run.Error);
        Assert.False(File.Exists(_files.Path("out.jsonl")));
    }

    [Fact]
    public async Task Run_BadMapSyntaxAndUnknownInput_AreUsageErrors()
    {
        string input = _files.Csv("in.csv", 3, 4);

        CliRun syntax = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.jsonl"), "--map", "input");
        CliRun unknown = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.jsonl"), "--map", "features=f0,f1,f2,f3");

        Assert.Equal(2, syntax.ExitCode);
        Assert.Contains("--map 'input' is not INPUT=COL1,COL2", syntax.Error);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("--map names input 'features', which the model does not have; its inputs are: input.", unknown.Error);
    }

    [Fact]
    public async Task Run_MissingInput_ExitsOne()
    {
        CliRun run = await Run("--model", _files.SmallMlp(), "--input", _files.Path("missing.csv"), "--output", _files.Path("out.jsonl"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("does not exist", run.Error);
    }

    [Fact]
    public async Task Run_MissingRequiredOption_IsAUsageError()
    {
        CliRun run = await Run("--model", _files.SmallMlp(), "--input", _files.Csv("in.csv", 3, 4));

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--output", run.Error);
    }

    [Fact]
    public async Task Run_OutputExists_IsRefusedUntilOverwrite()
    {
        string input = _files.Csv("in.csv", 3, 4);
        File.WriteAllText(_files.Path("out.jsonl"), "precious");

        CliRun refused = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.jsonl"));
        string kept = File.ReadAllText(_files.Path("out.jsonl"));
        CliRun replaced = await Run("--model", _files.SmallMlp(), "--input", input, "--output", _files.Path("out.jsonl"), "--overwrite");

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("exists; pass --overwrite to replace it", refused.Error);
        Assert.Equal("precious", kept);
        Assert.Equal(0, replaced.ExitCode);
    }

    [Fact]
    public async Task Run_ResumeWithAnotherModelsCheckpoint_IsRefusedWithTheReason()
    {
        string input = _files.Csv("in.csv", 10, 4);
        await Run("--model", _files.SmallMlp("a.onnx", seed: 1), "--input", input, "--output", _files.Path("out.jsonl"));
        string checkpoint = _files.Path("out.jsonl.checkpoint.json");
        File.WriteAllText(checkpoint, File.ReadAllText(checkpoint).Replace("\"completed\": true", "\"completed\": false", StringComparison.Ordinal));

        CliRun run = await Run("--model", _files.SmallMlp("b.onnx", seed: 2), "--input", input, "--output", _files.Path("out.jsonl"), "--resume");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("cannot resume from checkpoint", run.Error);
        Assert.Contains("it was written for a different model", run.Error);
    }

    [Fact]
    public async Task ShardsThenMerge_EqualOneUnshardedRun()
    {
        string model = _files.SmallMlp();
        string input = _files.Csv("in.csv", 101, 4, bad: [7]);
        await Run("--model", model, "--input", input, "--output", _files.Path("all.jsonl"), "--batch-size", "16");
        var parts = new List<string>();
        for (int k = 0; k < 4; k++)
        {
            parts.Add(_files.Path($"part-{k}.jsonl"));
            CliRun shard = await Run("--model", model, "--input", input, "--output", parts[^1], "--shard", $"{k}/4", "--batch-size", "16");
            Assert.True(shard.ExitCode is 0 or 3, shard.ToString());
        }

        CliRun merge = await ModelsCli.RunAsync(["batch", "merge", .. parts, "-o", _files.Path("merged.jsonl")]);

        Assert.True(merge.ExitCode == 0, merge.ToString());
        Assert.Contains($"merged 100 rows from 4 parts → {_files.Path("merged.jsonl")}", merge.Output);
        Assert.Equal(File.ReadAllBytes(_files.Path("all.jsonl")), File.ReadAllBytes(_files.Path("merged.jsonl")));
    }

    [Fact]
    public async Task Merge_MissingShard_ExitsOne()
    {
        string model = _files.SmallMlp();
        string input = _files.Csv("in.csv", 10, 4);
        await Run("--model", model, "--input", input, "--output", _files.Path("p0.jsonl"), "--shard", "0/2");

        CliRun merge = await ModelsCli.RunAsync("batch", "merge", _files.Path("p0.jsonl"), "-o", _files.Path("merged.jsonl"));

        Assert.Equal(1, merge.ExitCode);
        Assert.Contains("shard 1/2 of the job is missing from the parts.", merge.Error);
    }

    private static string BatchCheckpointModel(string output) =>
        JsonDocument.Parse(File.ReadAllText(output + ".checkpoint.json")).RootElement.GetProperty("model").GetString()!;
}
