using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Models;
using Quiver.Core.Tests.Lifecycle;
using Quiver.Core.Tensors;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Core.Tests.Scheduling;

/// <summary>The per-version scheduler through <see cref="InferenceService"/>, on real ONNX Runtime sessions.</summary>
public sealed class SchedulerTests : IDisposable
{
    private static readonly float[,] s_w1 = { { 0.5f, -1f, 0.25f }, { 1f, 0.5f, -0.5f }, { -0.25f, 0.75f, 1f }, { 0.1f, 0.2f, 0.3f } };
    private static readonly float[] s_b1 = [0.1f, -0.2f, 0.05f];
    private static readonly float[,] s_w2 = { { 1f, -1f }, { 0.5f, 0.25f }, { -0.75f, 1.5f } };
    private static readonly float[] s_b2 = [0.2f, -0.1f];

    private readonly string _root = Directory.CreateTempSubdirectory("quiver-scheduler-").FullName;
    private ModelCatalog? _catalog;
    private LoadedRepository? _loaded;

    public void Dispose()
    {
        _catalog?.Dispose();
        _loaded?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private InferenceService Serve(string name, ModelBuilder model, string config)
    {
        string dir = Path.Combine(_root, name, "1");
        Directory.CreateDirectory(dir);
        model.Save(Path.Combine(dir, "model.onnx"));
        File.WriteAllText(Path.Combine(_root, name, "config.json"), config);
        _catalog?.Dispose();
        _loaded?.Dispose();
        _loaded = LoadedRepository.Load(_root);
        _catalog = _loaded.Catalog;
        Assert.NotNull(_catalog.Find(name, null, out InferenceError? error));
        Assert.Null(error);
        return new InferenceService(_catalog);
    }

    private static InferenceRequest Rows(string model, float[] values, int rows, params (string Key, object Value)[] parameters) => new()
    {
        ModelName = model,
        Inputs = [new InferenceTensor("input", DataType.Fp32, [rows, values.Length / rows], MemoryMarshal.AsBytes(values.AsSpan()).ToArray())],
        Parameters = parameters.Length == 0 ? Parameters.Empty : new Parameters(parameters.ToDictionary(p => p.Key, p => p.Value)),
    };

    private static float[] Floats(InferResult result) => result.Response!.Outputs[0].AsSpan<float>().ToArray();

    private ServedModel Model(string name) => _catalog!.Find(name, null, out _)!;

    /// <summary>1000 chained 1024×1024 MatMuls on an expanded scalar: seconds of work, to keep an instance busy.</summary>
    private static ModelBuilder Slow()
    {
        const int n = 1024, nodes = 1000;
        var builder = new ModelBuilder("slow").Input("input", TensorElementType.Float, "batch", 1).Output("output", TensorElementType.Float, n, n)
            .Initializer("shape", new long[] { n, n }, 2)
            .Initializer("w", Enumerable.Range(0, n * n).Select(i => (i % 5) * 0.0001f).ToArray(), n, n)
            .Node("Expand", ["input", "shape"], ["h0"]);
        for (int i = 0; i < nodes; i++)
        {
            builder.Node("MatMul", [$"h{i}", "w"], [i == nodes - 1 ? "output" : $"h{i + 1}"]);
        }

        return builder;
    }

    [Fact]
    public async Task Batching_MixedBatchSizes_GiveTheSameOutputsAsUnbatched()
    {
        InferenceService service = Serve("mlp", SampleModels.Mlp(s_w1, s_b1, s_w2, s_b2),
            """{"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 300000}}""");
        var random = new Random(7);
        int[] rows = [1, 2, 3, 1];
        float[][] inputs = rows.Select(r => Enumerable.Range(0, r * 4).Select(_ => (float)random.NextDouble() * 4 - 2).ToArray()).ToArray();

        InferResult[] batched = await Task.WhenAll(inputs.Select((x, i) => service.InferAsync(Rows("mlp", x, rows[i]), default).AsTask()));

        StatisticsSnapshot stats = Model("mlp").Statistics.Snapshot();
        Assert.Equal(1, stats.ExecutionCount); // all four requests ran as one batch of 7 rows
        Assert.Equal(7, stats.InferenceCount);
        Assert.Equal(7, Assert.Single(stats.BatchStats).BatchSize);
        for (int i = 0; i < inputs.Length; i++)
        {
            InferResult alone = await service.InferAsync(Rows("mlp", inputs[i], rows[i]), default);
            Assert.Equal([rows[i], 2L], batched[i].Response!.Outputs[0].Shape);
            Assert.Equal(Floats(alone), Floats(batched[i]));
        }
    }

    [Fact]
    public async Task Batching_PreferredSize_RunsAtOnceWithoutWaitingTheDelay()
    {
        InferenceService service = Serve("mlp", SampleModels.Mlp(s_w1, s_b1, s_w2, s_b2),
            """{"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 60000000, "preferred_batch_size": [4]}}""");

        Task<InferResult>[] requests = Enumerable.Range(0, 4).Select(i => service.InferAsync(Rows("mlp", [i, 1, 2, 3], 1), default).AsTask()).ToArray();
        Task all = Task.WhenAll(requests);

        // The delay is a minute; reaching the preferred size of 4 must not wait for it.
        Assert.Same(all, await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(30))));
        Assert.All(requests, r => Assert.Null(r.Result.Error));
        Assert.Equal(1, Model("mlp").Statistics.Snapshot().ExecutionCount);
    }

    [Fact]
    public async Task Batching_DifferentShapes_AreNeverMixed()
    {
        InferenceService service = Serve("id", SampleModels.Identity(TensorElementType.Float, "batch", "n"),
            """{"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 200000}}""");

        InferResult[] results = await Task.WhenAll(
            service.InferAsync(Rows("id", [1, 2, 3], 1), default).AsTask(),
            service.InferAsync(Rows("id", [4, 5, 6, 7], 1), default).AsTask(),
            service.InferAsync(Rows("id", [8, 9, 10], 1), default).AsTask());

        Assert.Equal([1f, 2, 3], Floats(results[0]));
        Assert.Equal([4f, 5, 6, 7], Floats(results[1]));
        Assert.Equal([8f, 9, 10], Floats(results[2]));
        Assert.Equal(2, Model("id").Statistics.Snapshot().ExecutionCount); // [1,3]+[1,3] together, [1,4] alone
    }

    [Fact]
    public async Task InvalidBatchMate_DoesNotFailTheOthers()
    {
        InferenceService service = Serve("mlp", SampleModels.Mlp(s_w1, s_b1, s_w2, s_b2),
            """{"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 200000}}""");

        InferResult[] results = await Task.WhenAll(
            service.InferAsync(Rows("mlp", [1, 2, 3, 4], 1), default).AsTask(),
            service.InferAsync(Rows("mlp", [1, 2, 3], 1), default).AsTask(),
            service.InferAsync(Rows("mlp", [4, 3, 2, 1], 1), default).AsTask());

        Assert.Null(results[0].Error);
        Assert.Equal(ErrorKind.InvalidArgument, results[1].Error!.Kind);
        Assert.Null(results[2].Error);
        // The two valid requests still shared one execution: the invalid one never joined their batch.
        StatisticsSnapshot statistics = Model("mlp").Statistics.Snapshot();
        Assert.Equal((1L, 2L), (statistics.ExecutionCount, statistics.InferenceCount));
    }

    [Fact]
    public async Task BatchClassRows_NeverRideAlongInAnOnlineBatch()
    {
        InferenceService service = Serve("mlp", SampleModels.Mlp(s_w1, s_b1, s_w2, s_b2),
            """{"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 200000}}""");

        InferResult[] results = await Task.WhenAll(
            service.InferAsync(Rows("mlp", [4, 3, 2, 1], 1, ("priority", 2L)), default).AsTask(),
            service.InferAsync(Rows("mlp", [1, 2, 3, 4], 1), default).AsTask(),
            service.InferAsync(Rows("mlp", [1, 2, 3, 4, 5, 6, 7, 8], 2), default).AsTask());

        Assert.All(results, r => Assert.Null(r.Error));
        // The two online requests shared a run; the batch-class row, though it fitted, had one of its own.
        StatisticsSnapshot statistics = Model("mlp").Statistics.Snapshot();
        Assert.Equal((2L, 4L), (statistics.ExecutionCount, statistics.InferenceCount));
    }

    [Fact]
    public async Task ModelFailingInsideABatch_FailsThatBatchOnly_AndTheInstanceKeepsServing()
    {
        // Gather with an index beyond the data fails inside ONNX Runtime, after validation.
        ModelBuilder gather = new ModelBuilder("gather")
            .Input("input", TensorElementType.Int64, "batch", 1)
            .Output("output", TensorElementType.Float, "batch", 1)
            .Initializer("data", new float[] { 10, 20, 30 }, 3)
            .Node("Gather", ["data", "input"], ["output"]);
        // Long enough a delay that the two concurrent requests below form one batch even on a slow machine.
        InferenceService service = Serve("gather", gather,
            """{"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 200000}, "warmup": false}""");
        InferenceRequest Index(long i) => new()
        {
            ModelName = "gather",
            Inputs = [new InferenceTensor("input", DataType.Int64, [1, 1], BitConverter.GetBytes(i))],
        };

        InferResult[] batch = await Task.WhenAll(service.InferAsync(Index(99), default).AsTask(), service.InferAsync(Index(1), default).AsTask());
        InferResult alone = await service.InferAsync(Index(2), default);

        // Both requests were in the failing batch: both get its clear (not internal) error, and nothing else breaks.
        Assert.All(batch, result =>
        {
            Assert.NotNull(result.Error);
            Assert.NotEqual(ErrorKind.Internal, result.Error.Kind);
            Assert.Contains("gather", result.Error.Message);
        });
        Assert.Equal([30f], Floats(alone));
    }

    [Fact]
    public async Task QueueFull_IsRefusedAtOnce_AndAWithdrawnRequestFreesItsSlot()
    {
        InferenceService service = Serve("slow", Slow(), """{"max_batch_size": 4, "max_queue_size": 1, "warmup": false}""");
        using var stopSlow = new CancellationTokenSource();
        Task<InferResult> running = service.InferAsync(Rows("slow", [1], 1), stopSlow.Token).AsTask();
        await WaitUntil(() => Model("slow").Statistics.Snapshot().Queue.Count == 1); // the instance took it

        using var leave = new CancellationTokenSource();
        Task<InferResult> queued = service.InferAsync(Rows("slow", [2], 1), leave.Token).AsTask();
        InferResult full = await service.InferAsync(Rows("slow", [3], 1), default);
        Assert.Equal(ErrorKind.QueueFull, full.Error!.Kind);
        Assert.Contains("max_queue_size", full.Error.Message);

        await leave.CancelAsync(); // the client goes away while waiting
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
        Task<InferResult> next = service.InferAsync(Rows("slow", [4], 1), stopSlow.Token).AsTask();
        Assert.False(next.IsCompleted, "the freed slot takes the next request, which waits instead of being refused");

        await stopSlow.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
    }

    [Fact]
    public async Task ExpiredDeadline_Returns504KindWithoutRunning()
    {
        InferenceService service = Serve("mlp", SampleModels.Mlp(s_w1, s_b1, s_w2, s_b2), """{"max_batch_size": 8}""");

        InferResult result = await service.InferAsync(Rows("mlp", [1, 2, 3, 4], 1, ("timeout", 1L)), default);

        Assert.Equal(ErrorKind.DeadlineExceeded, result.Error!.Kind);
        Assert.Contains("did not run", result.Error.Message);
        Assert.Equal(0, Model("mlp").Statistics.Snapshot().ExecutionCount);
    }

    [Fact]
    public async Task BadTimeoutOrPriority_IsInvalidArgument()
    {
        InferenceService service = Serve("mlp", SampleModels.Mlp(s_w1, s_b1, s_w2, s_b2), """{"max_batch_size": 8}""");

        InferResult negative = await service.InferAsync(Rows("mlp", [1, 2, 3, 4], 1, ("timeout", -5L)), default);
        InferResult text = await service.InferAsync(Rows("mlp", [1, 2, 3, 4], 1, ("priority", "high")), default);

        Assert.Equal(ErrorKind.InvalidArgument, negative.Error!.Kind);
        Assert.Contains("timeout", negative.Error.Message);
        Assert.Equal(ErrorKind.InvalidArgument, text.Error!.Kind);
        Assert.Contains("priority", text.Error.Message);
    }

    /// <summary>
    /// Input "shape" INT64 [2] = [rows, 1024]: a 1024-wide matrix of that many rows multiplied 1000 times, so
    /// [1024, 1024] takes seconds and [1, 1024] milliseconds. Lets a test choose how long a request runs.
    /// </summary>
    private static ModelBuilder VariableWork()
    {
        const int n = 1024, nodes = 1000;
        var builder = new ModelBuilder("variable").Input("shape", TensorElementType.Int64, 2).Output("output", TensorElementType.Float, "rows", n)
            .Initializer("one", new float[] { 1 }, 1)
            .Initializer("w", Enumerable.Range(0, n * n).Select(i => (i % 5) * 0.0001f).ToArray(), n, n)
            .Node("Expand", ["one", "shape"], ["h0"]);
        for (int i = 0; i < nodes; i++)
        {
            builder.Node("MatMul", [$"h{i}", "w"], [i == nodes - 1 ? "output" : $"h{i + 1}"]);
        }

        return builder;
    }

    private static InferenceRequest Work(long rows, long priority) => new()
    {
        ModelName = "variable",
        Inputs = [new InferenceTensor("shape", DataType.Int64, [2], BitConverter.GetBytes(rows).Concat(BitConverter.GetBytes(1024L)).ToArray())],
        Parameters = new Parameters(new() { ["priority"] = priority }),
    };

    [Fact]
    public async Task OnlineRequests_RunBeforeBatchWorkThatWaitedLonger()
    {
        InferenceService service = Serve("variable", VariableWork(), """{"warmup": false}""");
        using var stopSlow = new CancellationTokenSource();
        Task<InferResult> running = service.InferAsync(Work(1024, 1), stopSlow.Token).AsTask();
        await WaitUntil(() => Model("variable").Statistics.Snapshot().Queue.Count == 1); // the instance is busy

        var finished = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Task batch = Track("batch", service.InferAsync(Work(1, 2), default).AsTask(), finished);
        Task online = Track("online", service.InferAsync(Work(1, 1), default).AsTask(), finished);
        await stopSlow.CancelAsync();
        await Task.WhenAll(batch, online);

        // The online request came second but ran first.
        Assert.Equal(["online", "batch"], finished);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }

    [Fact]
    public async Task BatchJobEngine_QueuesInTheBatchClass_BehindOnlineRequestsThatCameLater()
    {
        InferenceService service = Serve("variable", VariableWork(), """{"warmup": false}""");
        using var stopSlow = new CancellationTokenSource();
        Task<InferResult> running = service.InferAsync(Work(1024, 1), stopSlow.Token).AsTask();
        await WaitUntil(() => Model("variable").Statistics.Snapshot().Queue.Count == 1); // the instance is busy

        // A server-side job's batch, through the engine the server gives its jobs, waits first.
        var engine = new Quiver.Core.Batch.ScheduledEngine(service, Model("variable"));
        var finished = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Task job = Task.Run(() =>
        {
            engine.Run([new NamedTensor("shape", TensorValue.FromArray([2], new long[] { 1, 1024 }))], null, default);
            finished.Enqueue("job");
        });
        await WaitUntil(() => Model("variable").QueueDepth == 1);
        Task online = Track("online", service.InferAsync(Work(1, 1), default).AsTask(), finished);
        await WaitUntil(() => Model("variable").QueueDepth == 2);
        await stopSlow.CancelAsync();
        await Task.WhenAll(job, online);

        Assert.Equal(["online", "job"], finished);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
    }

    [Fact]
    public async Task BatchJobEngine_RunsALargeBatchInPieces_WithTheSameOutputsAsOneRun()
    {
        InferenceService service = Serve("mlp", SampleModels.Mlp(s_w1, s_b1, s_w2, s_b2), """{"max_batch_size": 128}""");
        const int rows = 100; // pieces of 32, 32, 32 and 4
        float[] values = Enumerable.Range(0, rows * 4).Select(i => (i % 17) * 0.1f - 0.8f).ToArray();
        float[] whole = Floats(await service.InferAsync(Rows("mlp", values, rows), default));
        long executions = Model("mlp").Statistics.Snapshot().ExecutionCount;

        var engine = new Quiver.Core.Batch.ScheduledEngine(service, Model("mlp"));
        TensorValue[] outputs = await Task.Run(() => engine.Run([new NamedTensor("input", TensorValue.FromArray([rows, 4], values))], null, default));

        Assert.Equal([rows, 2], outputs[0].Shape);
        Assert.Equal(whole, outputs[0].AsSpan<float>().ToArray());
        Assert.Equal(executions + 4, Model("mlp").Statistics.Snapshot().ExecutionCount);
    }

    private static async Task Track(string name, Task<InferResult> request, System.Collections.Concurrent.ConcurrentQueue<string> finished)
    {
        try
        {
            await request;
        }
        catch (OperationCanceledException)
        {
        }

        finished.Enqueue(name);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.True(condition(), "condition not reached in 30 s");
    }
}
