using System.Text.Json;

namespace Quiver.Cli.Bench;

/// <summary>The cumulative counters of the statistics extension, summed over the versions a stats call returns.</summary>
public sealed record StatisticsSample(long InferenceCount, long ExecutionCount, long QueueNs, long ComputeInputNs, long ComputeInferNs, long ComputeOutputNs)
{
    /// <summary>Reads a <c>GET .../stats</c> body: <c>{"model_stats": [...]}</c>.</summary>
    public static StatisticsSample Parse(JsonElement root)
    {
        long inferences = 0, executions = 0, queue = 0, input = 0, infer = 0, output = 0;
        foreach (JsonElement version in root.GetProperty("model_stats").EnumerateArray())
        {
            inferences += version.GetProperty("inference_count").GetInt64();
            executions += version.GetProperty("execution_count").GetInt64();
            JsonElement stats = version.GetProperty("inference_stats");
            queue += Nanoseconds(stats, "queue");
            input += Nanoseconds(stats, "compute_input");
            infer += Nanoseconds(stats, "compute_infer");
            output += Nanoseconds(stats, "compute_output");
        }

        return new StatisticsSample(inferences, executions, queue, input, infer, output);
    }

    private static long Nanoseconds(JsonElement stats, string name) =>
        stats.TryGetProperty(name, out JsonElement duration) ? duration.GetProperty("ns").GetInt64() : 0;
}

/// <summary>
/// Where the server spent its time during one level, from the statistics before and after it: each phase's
/// total divided by the inferences run (µs per inference), and the average batch the model executed.
/// </summary>
public sealed record ServerBreakdown(
    long Inferences,
    long Executions,
    double AvgBatchSize,
    double QueueUs,
    double ComputeInputUs,
    double ComputeInferUs,
    double ComputeOutputUs)
{
    /// <summary>The difference between two samples; zeros when nothing ran in between.</summary>
    public static ServerBreakdown Between(StatisticsSample before, StatisticsSample after)
    {
        long inferences = after.InferenceCount - before.InferenceCount;
        long executions = after.ExecutionCount - before.ExecutionCount;
        double PerInference(long ns) => inferences == 0 ? 0 : ns / 1000.0 / inferences;
        return new ServerBreakdown(
            inferences,
            executions,
            executions == 0 ? 0 : (double)inferences / executions,
            PerInference(after.QueueNs - before.QueueNs),
            PerInference(after.ComputeInputNs - before.ComputeInputNs),
            PerInference(after.ComputeInferNs - before.ComputeInferNs),
            PerInference(after.ComputeOutputNs - before.ComputeOutputNs));
    }
}

/// <summary>
/// The server's .NET GC counters from its Prometheus /metrics (the runtime's own meter): bytes allocated on the managed
/// heap and gen2 collections, both since the process started.
/// </summary>
public sealed record GcSample(long AllocatedBytes, long Gen2Collections)
{
    private const string Allocated = "dotnet_gc_heap_total_allocated_total";
    private const string Gen2 = "dotnet_gc_collections_total{gc_heap_generation=\"gen2\"}";

    /// <summary>Reads the two series from a scrape; null when the server does not publish them.</summary>
    public static GcSample? Parse(string metrics)
    {
        long? allocated = null, gen2 = null;
        foreach (string line in metrics.Split('\n'))
        {
            allocated ??= Value(line, Allocated);
            gen2 ??= Value(line, Gen2);
        }

        return allocated is null ? null : new GcSample(allocated.Value, gen2 ?? 0);
    }

    private static long? Value(string line, string series) =>
        line.StartsWith(series + " ", StringComparison.Ordinal) &&
        double.TryParse(line.AsSpan(series.Length + 1), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value)
            ? (long)value
            : null;
}

/// <summary>What the server allocated on the managed heap during one level, in total and per inference, and its gen2 collections.</summary>
public sealed record GcReport(long AllocatedBytes, double BytesPerInference, long Gen2Collections)
{
    /// <summary>The difference between two samples over <paramref name="inferences"/> inferences.</summary>
    public static GcReport Between(GcSample before, GcSample after, long inferences)
    {
        long allocated = after.AllocatedBytes - before.AllocatedBytes;
        return new GcReport(allocated, inferences == 0 ? 0 : (double)allocated / inferences, after.Gen2Collections - before.Gen2Collections);
    }
}
