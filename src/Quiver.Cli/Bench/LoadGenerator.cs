using System.Diagnostics;

namespace Quiver.Cli.Bench;

/// <summary>What one concurrency level measured on the client side.</summary>
public sealed record LoadResult(long Requests, long Errors, string? FirstError, double ElapsedSeconds, long[] LatencyTicks);

/// <summary>
/// Closed-loop load: N workers, each sending its next request as soon as the last one answered, recording
/// latency in Stopwatch ticks into its own list (no shared state but the budget).
/// </summary>
public static class LoadGenerator
{
    /// <summary>Runs <paramref name="concurrency"/> workers until <paramref name="budget"/> runs out, then waits for the last answers.</summary>
    public static async Task<LoadResult> RunAsync(Func<InferenceCall> newCall, int concurrency, LoadBudget budget, CancellationToken cancellationToken)
    {
        var workers = new Task<WorkerResult>[concurrency];
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < concurrency; i++)
        {
            InferenceCall call = newCall();
            workers[i] = Task.Run(() => RunWorkerAsync(call, budget, cancellationToken), cancellationToken);
        }

        WorkerResult[] results = await Task.WhenAll(workers);
        double elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        cancellationToken.ThrowIfCancellationRequested();

        var ticks = new long[results.Sum(r => r.Latencies.Count)];
        int offset = 0;
        foreach (WorkerResult result in results)
        {
            result.Latencies.CopyTo(ticks, offset);
            offset += result.Latencies.Count;
        }

        return new LoadResult(
            ticks.LongLength + results.Sum(r => r.Errors),
            results.Sum(r => r.Errors),
            results.Select(r => r.FirstError).FirstOrDefault(e => e is not null),
            elapsed,
            ticks);
    }

    private static async Task<WorkerResult> RunWorkerAsync(InferenceCall call, LoadBudget budget, CancellationToken cancellationToken)
    {
        var latencies = new List<long>(capacity: 4096);
        long errors = 0;
        string? firstError = null;
        while (!cancellationToken.IsCancellationRequested && budget.TryTake())
        {
            long start = Stopwatch.GetTimestamp();
            string? error = await call.SendAsync(cancellationToken);
            long elapsed = Stopwatch.GetTimestamp() - start;
            if (error is null)
            {
                latencies.Add(elapsed);
            }
            else
            {
                errors++;
                firstError ??= error;
            }
        }

        return new WorkerResult(latencies, errors, firstError);
    }

    private sealed record WorkerResult(List<long> Latencies, long Errors, string? FirstError);
}
