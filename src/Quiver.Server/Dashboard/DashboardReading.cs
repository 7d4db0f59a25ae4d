using System.Diagnostics;
using System.Globalization;
using Quiver.Core.Models;
using Quiver.Core.Monitoring.Drift;

namespace Quiver.Server.Dashboard;

/// <summary>Everything the dashboard shows, read at one moment: cumulative counters, which the sampler turns into rates.</summary>
internal sealed record DashboardReading(long Timestamp, ProcessReading Process, IReadOnlyList<ModelReading> Models)
{
    /// <summary>Reads the catalog's models (one consistent snapshot of them), their statistics and the process figures.</summary>
    public static DashboardReading Read(ModelCatalog catalog, LatencyHistograms latencies, bool cacheOn, long timestamp)
    {
        var models = new List<ModelReading>();
        foreach (var (name, versions) in catalog.Index())
        {
            IReadOnlyDictionary<string, long> aliases = catalog.AliasesOf(name);
            var readings = new VersionReading[versions.Length];
            for (int i = 0; i < versions.Length; i++)
            {
                ModelVersionStatus status = versions[i];
                string[] aliasNames = aliases.Where(a => a.Value == status.Version).Select(a => a.Key).Order(StringComparer.Ordinal).ToArray();
                readings[i] = status.Model is { } model && status.State == ModelState.Ready
                    ? new VersionReading(name, status.Version, status.State, status.Reason, aliasNames,
                        VersionCounters.Of(model, latencies), model.QueueDepth, cacheOn && model.Config.ResponseCache, model.Drift?.Report())
                    : new VersionReading(name, status.Version, status.State, status.Reason, aliasNames, null, 0, false, null);
            }

            models.Add(new ModelReading(name, readings));
        }

        return new DashboardReading(timestamp, ProcessReading.Now(), models);
    }
}

/// <summary>One model and its versions.</summary>
internal sealed record ModelReading(string Name, IReadOnlyList<VersionReading> Versions);

/// <summary>One version's state, and its counters when it is loaded.</summary>
internal sealed record VersionReading(string Model, long Version, ModelState State, string? Reason, IReadOnlyList<string> Aliases,
    VersionCounters? Counters, int QueueDepth, bool Cached, DriftReport? Drift)
{
    public string VersionText => Version.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A loaded version's cumulative counters (Triton's statistics) and latency histogram.</summary>
internal sealed record VersionCounters(Guid LoadId, long Success, long Failure, long Inferences, long Executions,
    long CacheHits, long CacheMisses, long[] LatencyBuckets, IReadOnlyList<(long BatchSize, long Executions)> Batches)
{
    public static VersionCounters Of(ServedModel model, LatencyHistograms latencies)
    {
        StatisticsSnapshot s = model.Statistics.Snapshot();
        return new VersionCounters(model.LoadId, s.Success.Count, s.Fail.Count, s.InferenceCount, s.ExecutionCount,
            s.CacheHit.Count, s.CacheMiss.Count, latencies.Read(model.Name, model.Version.ToString(CultureInfo.InvariantCulture)),
            s.BatchStats.Select(b => (b.BatchSize, b.ComputeInfer.Count)).ToArray());
    }
}

/// <summary>The server process: memory, CPU time, threads.</summary>
internal sealed record ProcessReading(long ResidentBytes, long ManagedHeapBytes, double CpuSeconds, int Threads, int Cores)
{
    public static ProcessReading Now()
    {
        using Process process = Process.GetCurrentProcess();
        return new ProcessReading(process.WorkingSet64, GC.GetTotalMemory(forceFullCollection: false),
            process.TotalProcessorTime.TotalSeconds, process.Threads.Count, Environment.ProcessorCount);
    }
}
