using System.Collections.Concurrent;
using System.Diagnostics;

namespace Quiver.Core.Models;

/// <summary>
/// Cumulative statistics of one model version, with Triton's meanings: request outcomes with their
/// total duration, and the time spent waiting for an instance (queue), preparing inputs, running the
/// model and reading outputs, overall and per batch size. Updated lock-free on every request.
/// </summary>
public sealed class ModelStatistics
{
    private readonly Duration _success = new();
    private readonly Duration _fail = new();
    private readonly Duration _queue = new();
    private readonly Duration _cacheHit = new();
    private readonly Duration _cacheMiss = new();
    private readonly ComputeDurations _compute = new();
    private readonly ConcurrentDictionary<long, ComputeDurations> _byBatchSize = new();
    private long _inferenceCount;
    private long _executionCount;
    private long _lastInferenceMs;

    /// <summary>Records the outcome of one request that reached this version.</summary>
    public void RecordRequest(bool success, long startTimestamp)
    {
        (success ? _success : _fail).Add(Stopwatch.GetElapsedTime(startTimestamp));
        Interlocked.Exchange(ref _lastInferenceMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    /// <summary>Records a request answered from the result cache, with the lookup's duration.</summary>
    public void RecordCacheHit(TimeSpan lookup) => _cacheHit.Add(lookup);

    /// <summary>Records a request the cache could not answer, with the lookup and insertion durations.</summary>
    public void RecordCacheMiss(TimeSpan lookupAndInsert) => _cacheMiss.Add(lookupAndInsert);

    /// <summary>Records how long one request waited for an instance.</summary>
    public void RecordQueue(TimeSpan waited) => _queue.Add(waited);

    /// <summary>
    /// Records one model execution of <paramref name="batchSize"/> inferences from <paramref name="requests"/>
    /// requests. As in Triton, every request of the batch is charged the batch's compute durations.
    /// </summary>
    public void RecordExecution(long batchSize, int requests, TimeSpan input, TimeSpan infer, TimeSpan output)
    {
        _compute.Add(input, infer, output, requests);
        _byBatchSize.GetOrAdd(batchSize, _ => new ComputeDurations()).Add(input, infer, output, 1);
        Interlocked.Add(ref _inferenceCount, batchSize);
        Interlocked.Increment(ref _executionCount);
    }

    /// <summary>A consistent-enough copy for reporting (each counter is read atomically).</summary>
    public StatisticsSnapshot Snapshot() => new(
        Interlocked.Read(ref _lastInferenceMs),
        Interlocked.Read(ref _inferenceCount),
        Interlocked.Read(ref _executionCount),
        _success.Read(), _fail.Read(), _queue.Read(),
        _compute.Input.Read(), _compute.Infer.Read(), _compute.Output.Read(),
        _cacheHit.Read(), _cacheMiss.Read(),
        _byBatchSize.OrderBy(b => b.Key)
            .Select(b => new BatchStatistics(b.Key, b.Value.Input.Read(), b.Value.Infer.Read(), b.Value.Output.Read()))
            .ToArray());

    private sealed class Duration
    {
        private long _count;
        private long _ticks;

        public void Add(TimeSpan elapsed, int times = 1)
        {
            Interlocked.Add(ref _count, times);
            Interlocked.Add(ref _ticks, elapsed.Ticks * times);
        }

        public CountAndNanoseconds Read() => new(Interlocked.Read(ref _count), Interlocked.Read(ref _ticks) * 100);
    }

    private sealed class ComputeDurations
    {
        public Duration Input { get; } = new();

        public Duration Infer { get; } = new();

        public Duration Output { get; } = new();

        public void Add(TimeSpan input, TimeSpan infer, TimeSpan output, int times)
        {
            Input.Add(input, times);
            Infer.Add(infer, times);
            Output.Add(output, times);
        }
    }
}

/// <summary>How many times something happened and its total duration in nanoseconds (Triton's StatisticDuration).</summary>
public readonly record struct CountAndNanoseconds(long Count, long Ns);

/// <summary>Compute durations of executions with one batch size.</summary>
public sealed record BatchStatistics(long BatchSize, CountAndNanoseconds ComputeInput, CountAndNanoseconds ComputeInfer, CountAndNanoseconds ComputeOutput);

/// <summary>A model version's statistics at one moment.</summary>
public sealed record StatisticsSnapshot(
    long LastInferenceMs,
    long InferenceCount,
    long ExecutionCount,
    CountAndNanoseconds Success,
    CountAndNanoseconds Fail,
    CountAndNanoseconds Queue,
    CountAndNanoseconds ComputeInput,
    CountAndNanoseconds ComputeInfer,
    CountAndNanoseconds ComputeOutput,
    CountAndNanoseconds CacheHit,
    CountAndNanoseconds CacheMiss,
    IReadOnlyList<BatchStatistics> BatchStats);
