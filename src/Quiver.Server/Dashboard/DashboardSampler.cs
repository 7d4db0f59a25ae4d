namespace Quiver.Server.Dashboard;

/// <summary>
/// Turns the cumulative counters of successive readings into live figures: request and failure rates, latency
/// percentiles, mean batch size and CPU use over the last <see cref="Window"/>. Readings are kept only when someone
/// looks (each dashboard poll is one), so an unwatched server does no work for the dashboard.
/// </summary>
internal sealed class DashboardSampler(TimeProvider time)
{
    /// <summary>
    /// How far back live figures look. Defaults to 10 s: with the page polling every second, ten readings smooth out
    /// single slow requests, and a change in traffic still shows within seconds.
    /// </summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The least time between kept readings, and the least a window may span to give rates: two pages polling out
    /// of step would otherwise compute rates over a few milliseconds. Defaults to 500 ms.
    /// </summary>
    public static readonly TimeSpan MinimumSpacing = TimeSpan.FromMilliseconds(500);

    private readonly Lock _lock = new();
    private readonly List<Kept> _history = [];

    /// <summary>The current timestamp of this sampler's clock, for <see cref="DashboardReading.Timestamp"/>.</summary>
    public long Timestamp() => time.GetTimestamp();

    /// <summary>Keeps the reading (when due) and computes the live figures against the oldest reading in the window.</summary>
    public DashboardView Observe(DashboardReading reading)
    {
        Kept[] history;
        lock (_lock)
        {
            _history.RemoveAll(k => time.GetElapsedTime(k.Timestamp, reading.Timestamp) > Window);
            history = [.. _history];
            if (_history.Count == 0 || time.GetElapsedTime(_history[^1].Timestamp, reading.Timestamp) >= MinimumSpacing)
            {
                _history.Add(Kept.Of(reading));
            }
        }

        var windows = new Dictionary<(string Model, long Version), VersionWindow>();
        double? cpuPercent = null;
        TimeSpan span = history.Length > 0 ? time.GetElapsedTime(history[0].Timestamp, reading.Timestamp) : TimeSpan.Zero;
        if (span >= MinimumSpacing)
        {
            double seconds = span.TotalSeconds;
            cpuPercent = Math.Max(0, (reading.Process.CpuSeconds - history[0].CpuSeconds) / seconds / reading.Process.Cores * 100);
            foreach (VersionReading version in reading.Models.SelectMany(m => m.Versions))
            {
                if (version.Counters is not { } now || Reference(history, version, now.LoadId) is not { } then)
                {
                    continue;
                }

                TimeSpan elapsed = time.GetElapsedTime(then.Timestamp, reading.Timestamp);
                if (elapsed >= MinimumSpacing)
                {
                    windows[(version.Model, version.Version)] = VersionWindow.Between(then.Counters, now, elapsed.TotalSeconds);
                }
            }
        }

        return new DashboardView(reading, cpuPercent, windows);
    }

    // The oldest kept counters of the same load of this version: a reload starts its statistics at zero.
    private static (VersionCounters Counters, long Timestamp)? Reference(Kept[] history, VersionReading version, Guid loadId)
    {
        foreach (Kept kept in history)
        {
            if (kept.Versions.TryGetValue((version.Model, version.Version), out VersionCounters? counters) && counters.LoadId == loadId)
            {
                return (counters, kept.Timestamp);
            }
        }

        return null;
    }

    private sealed record Kept(long Timestamp, double CpuSeconds, Dictionary<(string Model, long Version), VersionCounters> Versions)
    {
        public static Kept Of(DashboardReading reading) => new(reading.Timestamp, reading.Process.CpuSeconds,
            reading.Models.SelectMany(m => m.Versions)
                .Where(v => v.Counters is not null)
                .ToDictionary(v => (v.Model, v.Version), v => v.Counters!));
    }
}

/// <summary>A reading with its live figures: CPU use and each loaded version's window, when there is an earlier reading to compare.</summary>
internal sealed record DashboardView(DashboardReading Reading, double? CpuPercent, IReadOnlyDictionary<(string Model, long Version), VersionWindow> Windows)
{
    public VersionWindow? WindowOf(VersionReading version) => Windows.GetValueOrDefault((version.Model, version.Version));
}

/// <summary>One version's figures over a window; percentiles and batch size are null when nothing ran in it.</summary>
internal sealed record VersionWindow(double Seconds, double RequestsPerSecond, double FailuresPerSecond, double InferencesPerSecond,
    double? P50Seconds, double? P99Seconds, double? MeanBatchSize)
{
    public static VersionWindow Between(VersionCounters then, VersionCounters now, double seconds)
    {
        long[] latencies = new long[now.LatencyBuckets.Length];
        for (int i = 0; i < latencies.Length; i++)
        {
            latencies[i] = now.LatencyBuckets[i] - (i < then.LatencyBuckets.Length ? then.LatencyBuckets[i] : 0);
        }

        long executions = now.Executions - then.Executions;
        return new VersionWindow(
            seconds,
            (now.Success + now.Failure - then.Success - then.Failure) / seconds,
            (now.Failure - then.Failure) / seconds,
            (now.Inferences - then.Inferences) / seconds,
            Histograms.Quantile(LatencyHistograms.Bounds, latencies, 0.5),
            Histograms.Quantile(LatencyHistograms.Bounds, latencies, 0.99),
            executions > 0 ? (double)(now.Inferences - then.Inferences) / executions : null);
    }
}
