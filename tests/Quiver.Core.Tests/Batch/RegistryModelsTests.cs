using Quiver.Core.Batch;
using Quiver.Core.Lifecycle;
using Quiver.Core.Registry;
using Quiver.Core.Storage;
using Quiver.Onnx;

namespace Quiver.Core.Tests.Batch;

/// <summary>A batch job's model by name, version or alias from a real SQLite registry with encrypted artifacts.</summary>
public sealed class RegistryModelsTests : IDisposable
{
    private readonly BatchFixture _files = new();
    private readonly MasterKey _key = MasterKey.Generate();

    public void Dispose() => _files.Dispose();

    private string DataDir => _files.Path("data");

    private string RegistryPath => Path.Combine(DataDir, ModelRegistry.DefaultFileName);

    private Task<BatchModel> Load(string model) =>
        RegistryModels.LoadAsync(model, RegistryPath, Path.Combine(DataDir, "artifacts"), () => _key, CancellationToken.None);

    /// <summary>Pushes two versions of "scorer": 1 with alias production, 2 with alias canary.</summary>
    private async Task<(string V1, string V2)> PushAsync()
    {
        Directory.CreateDirectory(DataDir);
        string v1 = _files.Mlp("v1", seed: 1);
        string v2 = _files.Mlp("v2", seed: 2);
        await using IModelRegistry registry = await ModelRegistry.OpenAsync(RegistryPath);
        var publisher = new ModelPublisher(registry, new ArtifactVault(Path.Combine(DataDir, "artifacts"), () => _key, null), OnnxRuntime.Instance);
        foreach (string file in new[] { v1, v2 })
        {
            await using FileStream content = File.OpenRead(file);
            await publisher.PushAsync(content, new PushRequest { Model = "scorer", Force = true }, CancellationToken.None);
        }

        await registry.SetAliasAsync("scorer", "production", 1, "test");
        await registry.SetAliasAsync("scorer", "canary", 2, "test");
        return (v1, v2);
    }

    [Fact]
    public async Task LoadAsync_NameVersionOrAlias_ResolvesTheVersionAndItsBytes()
    {
        var (v1, v2) = await PushAsync();

        BatchModel production = await Load("scorer");
        BatchModel canary = await Load("scorer@canary");
        BatchModel pinned = await Load("scorer:2");

        Assert.Equal(("scorer:1", FileHash.Sha256(v1)), (production.Display, production.Sha256));
        Assert.Equal(("scorer:2", FileHash.Sha256(v2)), (canary.Display, canary.Sha256));
        Assert.Equal("scorer:2", pinned.Display);
    }

    [Fact]
    public async Task LoadAsync_RegistryModel_ScoresLikeItsFile()
    {
        var (_, v2) = await PushAsync();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(40));
        BatchModel model = await Load("scorer@canary");
        using InferenceSession session = model.Load(new SessionSettings { IntraOpThreads = 1 });

        new BatchRunner(new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl") }, model, session).Run(null, CancellationToken.None);

        BatchRunnerTests.AssertMatches(BatchFixture.PerRow(v2, BatchFixture.RandomRows(40)), BatchFixture.ReadJsonLines(_files.Path("out.jsonl")));
    }

    [Theory]
    [InlineData("other", "the registry has no model 'other'; it has: scorer.")]
    [InlineData("scorer@staging", "model 'scorer' has no alias 'staging'; its aliases: canary, production.")]
    [InlineData("scorer:7", "model 'scorer' has no version 7; its versions: 1, 2; aliases: canary, production.")]
    public async Task LoadAsync_UnknownNames_AreRefusedListingWhatExists(string model, string message)
    {
        await PushAsync();

        var e = await Assert.ThrowsAsync<BatchException>(() => Load(model));

        Assert.Equal(BatchErrorKind.ModelNotFound, e.Kind);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public async Task LoadAsync_MissingRegistry_IsRefused()
    {
        var e = await Assert.ThrowsAsync<BatchException>(() => Load("scorer"));

        Assert.Contains("does not exist", e.Message);
    }
}
