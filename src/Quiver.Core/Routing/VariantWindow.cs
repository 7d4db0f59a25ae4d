namespace Quiver.Core.Routing;

/// <summary>
/// One variant's requests over a window: how many, how many failed, and their latencies (the last 4,096, enough
/// for a p99 over a canary step) for comparing a candidate with its baseline.
/// </summary>
public sealed class VariantWindow
{
    private const int MaxLatencies = 4096;

    private readonly Lock _lock = new();
    private readonly double[] _latencies = new double[MaxLatencies];
    private long _requests;
    private long _failures;

    /// <summary>Counts one request.</summary>
    public void Add(bool success, TimeSpan latency)
    {
        lock (_lock)
        {
            _latencies[_requests % MaxLatencies] = latency.TotalMilliseconds;
            _requests++;
            _failures += success ? 0 : 1;
        }
    }

    /// <summary>The window's figures.</summary>
    public Snapshot Take()
    {
        lock (_lock)
        {
            double[] kept = _latencies[..(int)Math.Min(_requests, MaxLatencies)];
            Array.Sort(kept);
            double p99 = kept.Length == 0 ? 0 : kept[Math.Min(kept.Length - 1, (int)Math.Ceiling(kept.Length * 0.99) - 1)];
            return new Snapshot(_requests, _failures, p99);
        }
    }

    /// <summary>Requests, failures and the 99th-percentile latency in milliseconds.</summary>
    public sealed record Snapshot(long Requests, long Failures, double P99Milliseconds)
    {
        public double ErrorRate => Requests == 0 ? 0 : (double)Failures / Requests;
    }
}
