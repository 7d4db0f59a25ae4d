using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Caching;
using Quiver.Core.Models;
using Quiver.Core.Tests.Lifecycle;
using Quiver.Core.Tensors;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Core.Tests.Caching;

public sealed class ResponseCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("quiver-cache-").FullName;
    private ModelCatalog? _catalog;
    private LoadedRepository? _loaded;

    public void Dispose()
    {
        _catalog?.Dispose();
        _loaded?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private ModelCatalog Load(string config)
    {
        foreach (string name in new[] { "cached", "plain" })
        {
            string dir = Path.Combine(_root, name, "1");
            Directory.CreateDirectory(dir);
            SampleModels.Identity(TensorElementType.Float, "batch", 3).Save(Path.Combine(dir, "model.onnx"));
        }

        File.WriteAllText(Path.Combine(_root, "cached", "config.json"), config);
        _loaded = LoadedRepository.Load(_root);
        _catalog = _loaded.Catalog;
        return _catalog;
    }

    private static InferenceRequest Request(string model, float[] values, string? id = null, IReadOnlyList<RequestedOutput>? outputs = null) => new()
    {
        Id = id,
        ModelName = model,
        Inputs = [new InferenceTensor("input", DataType.Fp32, [values.Length / 3, 3], MemoryMarshal.AsBytes(values.AsSpan()).ToArray())],
        Outputs = outputs,
    };

    [Fact]
    public async Task RepeatedRequest_IsAnsweredFromTheCache_SayingSo()
    {
        ModelCatalog catalog = Load("""{"max_batch_size": 4, "response_cache": true}""");
        var service = new InferenceService(catalog, new ResponseCache(1 << 20));

        InferResult first = await service.InferAsync(Request("cached", [1, 2, 3], "a"), default);
        InferResult second = await service.InferAsync(Request("cached", [1, 2, 3], "b"), default);

        Assert.False(first.Response!.Parameters.ContainsKey("cache_hit"));
        Assert.Equal(true, second.Response!.Parameters["cache_hit"]);
        Assert.Equal("b", second.Response.Id);
        Assert.Equal(first.Response.Outputs[0].Data.ToArray(), second.Response.Outputs[0].Data.ToArray());
        StatisticsSnapshot stats = catalog.Find("cached", null, out _)!.Statistics.Snapshot();
        Assert.Equal((1, 1), (stats.CacheHit.Count, stats.CacheMiss.Count));
        Assert.Equal(1, stats.ExecutionCount); // the second never reached the model
        Assert.Equal(2, stats.Success.Count);
    }

    [Fact]
    public async Task DifferentInputsOrOutputs_AreNotConfused()
    {
        ModelCatalog catalog = Load("""{"max_batch_size": 4, "response_cache": true}""");
        var service = new InferenceService(catalog, new ResponseCache(1 << 20));

        InferResult a = await service.InferAsync(Request("cached", [1, 2, 3]), default);
        InferResult b = await service.InferAsync(Request("cached", [1, 2, 4]), default);
        InferResult c = await service.InferAsync(Request("cached", [1, 2, 3, 1, 2, 3]), default);

        Assert.Equal([1f, 2, 4], b.Response!.Outputs[0].AsSpan<float>().ToArray());
        Assert.Equal([2L, 3L], c.Response!.Outputs[0].Shape);
        Assert.All(new[] { a, b, c }, r => Assert.False(r.Response!.Parameters.ContainsKey("cache_hit")));
    }

    [Fact]
    public async Task ModelWithoutResponseCache_IsNeverCached()
    {
        ModelCatalog catalog = Load("""{"max_batch_size": 4}""");
        var service = new InferenceService(catalog, new ResponseCache(1 << 20));

        await service.InferAsync(Request("plain", [1, 2, 3]), default);
        InferResult again = await service.InferAsync(Request("plain", [1, 2, 3]), default);

        Assert.False(again.Response!.Parameters.ContainsKey("cache_hit"));
        Assert.Equal(2, catalog.Find("plain", null, out _)!.Statistics.Snapshot().ExecutionCount);
    }

    [Fact]
    public async Task ReloadedVersion_DoesNotAnswerFromTheOldLoadsEntries()
    {
        ModelCatalog catalog = Load("""{"max_batch_size": 4, "response_cache": true}""");
        var service = new InferenceService(catalog, new ResponseCache(1 << 20));
        await service.InferAsync(Request("cached", [1, 2, 3]), default);

        Assert.Null(_loaded!.LoadModel("cached"));
        InferResult after = await service.InferAsync(Request("cached", [1, 2, 3]), default);

        Assert.False(after.Response!.Parameters.ContainsKey("cache_hit"));
    }

    [Fact]
    public void Key_DependsOnDataShapeAndOutputs_NotOnInputOrderOrId()
    {
        ModelCatalog catalog = Load("""{"max_batch_size": 4, "response_cache": true}""");
        ServedModel model = catalog.Find("cached", null, out _)!;
        string key = ResponseCache.KeyOf(model, Request("cached", [1, 2, 3], "x"));

        Assert.Equal(key, ResponseCache.KeyOf(model, Request("cached", [1, 2, 3], "y")));
        Assert.NotEqual(key, ResponseCache.KeyOf(model, Request("cached", [1, 2, 3.5f])));
        Assert.NotEqual(key, ResponseCache.KeyOf(model, Request("cached", [1, 2, 3], outputs: [new RequestedOutput("output", Parameters.Empty)])));
        Assert.NotEqual(
            ResponseCache.KeyOf(model, Request("cached", [1, 2, 3], outputs: [new RequestedOutput("output", Parameters.Empty)])),
            ResponseCache.KeyOf(model, Request("cached", [1, 2, 3], outputs: [new RequestedOutput("output", new Parameters(new() { ["classification"] = 1L }))])));

        var twoInputs = new InferenceRequest
        {
            ModelName = "m",
            Inputs = [new InferenceTensor("a", DataType.Int8, [1], new byte[] { 1 }), new InferenceTensor("b", DataType.Int8, [1], new byte[] { 2 })],
        };
        Assert.Equal(ResponseCache.KeyOf(model, twoInputs), ResponseCache.KeyOf(model, twoInputs with { Inputs = [twoInputs.Inputs[1], twoInputs.Inputs[0]] }));
    }

    [Fact]
    public void Capacity_EvictsTheLeastRecentlyUsed()
    {
        var cache = new ResponseCache(8192);
        InferenceTensor[] Outputs() => [new InferenceTensor("o", DataType.UInt8, [1500], new byte[1500])]; // ~1.75 KiB an entry
        cache.Add("a", Outputs());
        cache.Add("b", Outputs());
        Assert.True(cache.TryGet("a", out _)); // a is now more recent than b

        cache.Add("c", Outputs());
        cache.Add("d", Outputs());
        cache.Add("e", Outputs()); // the fifth does not fit: b, the least recently used, goes

        Assert.True(cache.Bytes <= cache.CapacityBytes);
        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("e", out _));
    }

    [Fact]
    public void OversizedEntry_IsNotCached()
    {
        var cache = new ResponseCache(4096);

        cache.Add("big", [new InferenceTensor("o", DataType.UInt8, [2000], new byte[2000])]);

        Assert.False(cache.TryGet("big", out _));
        Assert.Equal(0, cache.Bytes);
    }
}
