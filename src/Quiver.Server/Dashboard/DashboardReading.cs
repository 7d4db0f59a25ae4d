using System.Diagnostics;
using System.Globalization;
using Quiver.Core.Models;
using Quiver.Core.Monitoring.Drift;
using Quiver.Core.Routing;

namespace Quiver.Server.Dashboard;

/// <summary>Everything the dashboard shows, read at one moment: cumulative counters, which the sampler turns into rates.</summary>
internal sealed record DashboardReading(long Timestamp, ProcessReading Process, IReadOnlyList<ModelReading> Models, TrafficReading Traffic)
{
    /// <summary>Reads the catalog's models, their statistics, the process figures and how traffic is routed.</summary>
    public static async Task<DashboardReading> ReadAsync(DashboardSources sources, long timestamp, CancellationToken cancellationToken)
    {
        ModelCatalog catalog = sources.Catalog;
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
                        VersionCounters.Of(model, sources.Latencies), model.QueueDepth, sources.CacheOn && model.Config.ResponseCache,
                        model.Drift?.Report())
                    : new VersionReading(name, status.Version, status.State, status.Reason, aliasNames, null, 0, false, null);
            }

            models.Add(new ModelReading(name, readings));
        }

        TrafficReading traffic = await TrafficReading.ReadAsync(sources.Endpoints, sources.ReadRollouts, cancellationToken);
        return new DashboardReading(timestamp, ProcessReading.Now(), models, traffic);
    }

    /// <summary>The reading as a caller who sees only the models <paramref name="visible"/> accepts is shown it (the process figures stay).</summary>
    public DashboardReading Only(Func<string, bool> visible) =>
        this with { Models = Models.Where(m => visible(m.Name)).ToArray(), Traffic = Traffic.Only(visible) };
}

/// <summary>What the dashboard reads from: the served models, their latency histograms, the routing table and the rollouts.</summary>
internal sealed record DashboardSources(ModelCatalog Catalog, LatencyHistograms Latencies, bool CacheOn, EndpointTable Endpoints,
    Func<CancellationToken, Task<IReadOnlyDictionary<string, Rollout>>> ReadRollouts);

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
