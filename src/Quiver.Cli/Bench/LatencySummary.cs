using System.Diagnostics;

namespace Quiver.Cli.Bench;

/// <summary>Latency percentiles in microseconds, nearest-rank over every successful request of a run.</summary>
public sealed record LatencySummary(double P50, double P90, double P99, double Max, double Mean)
{
    /// <summary>Zero everywhere: no request succeeded.</summary>
    public static LatencySummary Empty { get; } = new(0, 0, 0, 0, 0);

    /// <summary>Summarises Stopwatch tick counts; sorts <paramref name="ticks"/> in place.</summary>
    public static LatencySummary FromTicks(long[] ticks)
    {
        if (ticks.Length == 0)
        {
            return Empty;
        }

        Array.Sort(ticks);
        double total = 0;
        foreach (long t in ticks)
        {
            total += t;
        }

        return new LatencySummary(
            Micros(Percentile(ticks, 0.50)), Micros(Percentile(ticks, 0.90)), Micros(Percentile(ticks, 0.99)),
            Micros(ticks[^1]), Micros(total / ticks.Length));
    }

    /// <summary>Converts Stopwatch ticks to microseconds.</summary>
    public static double Micros(double ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    // Nearest rank: the smallest value with at least p of the samples at or below it.
    private static long Percentile(long[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
