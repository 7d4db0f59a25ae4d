using System.Diagnostics;
using System.Globalization;
using Quiver.Cli.Bench;
using Quiver.Onnx;

namespace Quiver.Cli.Optimize;

/// <summary>One model at one batch size: runs, throughput and latency per run (µs).</summary>
public sealed record SpeedResult(long Runs, double InferencesPerS, LatencySummary LatencyUs);

/// <summary>Both models at one batch size; <see cref="Speedup"/> is the throughput ratio optimized ÷ original.</summary>
public sealed record SpeedLevel(int BatchSize, SpeedResult Original, SpeedResult Optimized)
{
    public double Speedup => Original.InferencesPerS > 0 ? Optimized.InferencesPerS / Original.InferencesPerS : 0;
}

/// <summary>The speed part of the report, with what the machine was doing meanwhile.</summary>
/// <param name="Threads">ONNX Runtime intra-op threads per session (0: ORT's choice, one per core).</param>
/// <param name="DurationS">Measured time per model and batch size.</param>
/// <param name="Rounds">How many alternating slices the time was split into.</param>
/// <param name="Processors">Logical processors of this machine.</param>
/// <param name="LoadAverageBefore">1, 5 and 15 minute load averages (/proc/loadavg) before measuring; null off Linux.</param>
/// <param name="LoadAverageAfter">The same after measuring.</param>
public sealed record SpeedReport(int Threads, double DurationS, int Rounds, int Processors, double[]? LoadAverageBefore,
    double[]? LoadAverageAfter, IReadOnlyList<SpeedLevel> Levels);

/// <summary>
/// Measures both models through <see cref="InferenceSession"/>, in-process, at each batch size. The time is split into
/// rounds that alternate original and optimized (A B B A ...), so a burst of load from a neighbour on a shared machine
/// falls on both models instead of one.
/// </summary>
public static class SpeedComparison
{
    /// <summary>Slices per model and batch size.</summary>
    public const int Rounds = 4;

    public static SpeedReport Measure(InferenceSession original, InferenceSession optimized, IReadOnlyList<Sample> samples,
        IReadOnlyList<int> batchSizes, TimeSpan duration, int threads, CancellationToken cancellationToken)
    {
        double[]? loadBefore = LoadAverage();
        var levels = new List<SpeedLevel>();
        TimeSpan slice = duration / Rounds;
        foreach (int batch in batchSizes)
        {
            NamedTensor[] inputs = Batches.Cycle(samples, batch);
            // Warm-up: the first runs allocate arenas and plan memory for the new shape.
            RunFor(original, inputs, slice / 4, cancellationToken);
            RunFor(optimized, inputs, slice / 4, cancellationToken);
            var originalTicks = new List<long>();
            var optimizedTicks = new List<long>();
            double originalSeconds = 0, optimizedSeconds = 0;
            for (int round = 0; round < Rounds; round++)
            {
                bool originalFirst = round % 2 == 0;
                for (int turn = 0; turn < 2; turn++)
                {
                    bool isOriginal = (turn == 0) == originalFirst;
                    double seconds = RunFor(isOriginal ? original : optimized, inputs, slice, cancellationToken, isOriginal ? originalTicks : optimizedTicks);
                    if (isOriginal)
                    {
                        originalSeconds += seconds;
                    }
                    else
                    {
                        optimizedSeconds += seconds;
                    }
                }
            }

            levels.Add(new SpeedLevel(batch, Result(originalTicks, originalSeconds, batch), Result(optimizedTicks, optimizedSeconds, batch)));
        }

        return new SpeedReport(threads, duration.TotalSeconds, Rounds, Environment.ProcessorCount, loadBefore, LoadAverage(), levels);
    }

    private static SpeedResult Result(List<long> ticks, double seconds, int batch) =>
        new(ticks.Count, seconds > 0 ? ticks.Count * (double)batch / seconds : 0, LatencySummary.FromTicks([.. ticks]));

    private static double RunFor(InferenceSession session, NamedTensor[] inputs, TimeSpan duration, CancellationToken cancellationToken,
        List<long>? ticks = null)
    {
        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long now = start;
        // At least one run, however short the slice, so every level has a latency.
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            long begin = now;
            session.Run(inputs);
            now = Stopwatch.GetTimestamp();
            ticks?.Add(now - begin);
        }
        while (now < deadline);

        return (now - start) / (double)Stopwatch.Frequency;
    }

    private static double[]? LoadAverage()
    {
        try
        {
            string[] parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return parts.Take(3).Select(p => double.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
