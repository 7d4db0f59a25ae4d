using System.Buffers;
using System.Text.Json;
using Quiver.Core.Models;
using Quiver.Core.Monitoring.Drift;
using Quiver.Core.Routing;

namespace Quiver.Server.Dashboard;

/// <summary>
/// The dashboard's JSON (<c>GET /v2/admin/dashboard</c>): the server and process, totals, every model version with
/// its state, counters, live figures, queue, batch sizes, cache and drift, then endpoints (splits, experiments, shadows)
/// and rollouts. Counts are cumulative since the version was
/// loaded, as in <c>/v2/models/stats</c>; rates and percentiles cover <c>window_seconds</c>; null means "not known yet".
/// </summary>
internal static class DashboardJson
{
    /// <summary>How many of a version's drift features are listed, worst first.</summary>
    public const int DriftFeatures = 5;

    public static void Write(IBufferWriter<byte> output, DashboardView view, TimeSpan uptime)
    {
        using var w = new Utf8JsonWriter(output);
        DashboardReading reading = view.Reading;
        VersionReading[] versions = reading.Models.SelectMany(m => m.Versions).ToArray();
        VersionWindow?[] windows = Array.ConvertAll(versions, view.WindowOf);

        w.WriteStartObject();
        w.WriteStartObject("server");
        w.WriteString("name", "quiver");
        w.WriteString("version", ServerInfo.Version);
        w.WriteNumber("uptime_seconds", Math.Round(uptime.TotalSeconds, 1));
        w.WriteNumber("window_seconds", DashboardSampler.Window.TotalSeconds);
        w.WriteEndObject();

        ProcessReading process = reading.Process;
        w.WriteStartObject("process");
        w.WriteNumber("resident_memory_bytes", process.ResidentBytes);
        w.WriteNumber("managed_heap_bytes", process.ManagedHeapBytes);
        w.WriteNumber("cpu_seconds_total", Math.Round(process.CpuSeconds, 3));
        Number(w, "cpu_percent", view.CpuPercent, 1);
        w.WriteNumber("threads", process.Threads);
        w.WriteNumber("cores", process.Cores);
        w.WriteEndObject();

        w.WriteStartObject("totals");
        w.WriteNumber("models", reading.Models.Count);
        w.WriteNumber("versions_ready", versions.Count(v => v.State == ModelState.Ready));
        w.WriteNumber("versions_failed", versions.Count(v => v.State == ModelState.Failed));
        w.WriteNumber("success", versions.Sum(v => v.Counters?.Success ?? 0));
        w.WriteNumber("failure", versions.Sum(v => v.Counters?.Failure ?? 0));
        w.WriteNumber("queue_depth", versions.Sum(v => v.QueueDepth));
        Number(w, "requests_per_second", windows.Any(x => x is not null) ? windows.Sum(x => x?.RequestsPerSecond ?? 0) : null, 2);
        Number(w, "failures_per_second", windows.Any(x => x is not null) ? windows.Sum(x => x?.FailuresPerSecond ?? 0) : null, 2);
        w.WriteEndObject();

        w.WriteStartArray("models");
        foreach (ModelReading model in reading.Models)
        {
            w.WriteStartObject();
            w.WriteString("name", model.Name);
            w.WriteStartArray("versions");
            foreach (VersionReading version in model.Versions)
            {
                WriteVersion(w, version, view.WindowOf(version));
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        WriteTraffic(w, reading.Traffic);
        w.WriteEndObject();
    }

    private static void WriteVersion(Utf8JsonWriter w, VersionReading version, VersionWindow? window)
    {
        w.WriteStartObject();
        w.WriteString("version", version.VersionText);
        w.WriteString("state", version.State.ToString().ToLowerInvariant());
        w.WriteString("reason", version.Reason);
        w.WriteStartArray("aliases");
        foreach (string alias in version.Aliases)
        {
            w.WriteStringValue(alias);
        }

        w.WriteEndArray();
        if (version.Counters is not { } counters)
        {
            w.WriteEndObject();
            return;
        }

        w.WriteNumber("success", counters.Success);
        w.WriteNumber("failure", counters.Failure);
        w.WriteNumber("inferences", counters.Inferences);
        w.WriteNumber("executions", counters.Executions);
        w.WriteNumber("queue_depth", version.QueueDepth);
        Number(w, "requests_per_second", window?.RequestsPerSecond, 2);
        Number(w, "failures_per_second", window?.FailuresPerSecond, 2);
        Number(w, "inferences_per_second", window?.InferencesPerSecond, 2);

        // Milliseconds to the microsecond: the histogram's first bucket ends at 100 µs.
        w.WriteStartObject("latency_ms");
        Number(w, "p50", window?.P50Seconds * 1000, 3);
        Number(w, "p99", window?.P99Seconds * 1000, 3);
        Number(w, "p50_all", Histograms.Quantile(LatencyHistograms.Bounds, counters.LatencyBuckets, 0.5) * 1000, 3);
        Number(w, "p99_all", Histograms.Quantile(LatencyHistograms.Bounds, counters.LatencyBuckets, 0.99) * 1000, 3);
        w.WriteEndObject();

        w.WriteStartObject("batch");
        Number(w, "mean", window?.MeanBatchSize, 2);
        Number(w, "mean_all", counters.Executions > 0 ? (double)counters.Inferences / counters.Executions : null, 2);
        w.WriteStartArray("sizes");
        foreach (var (size, executions) in counters.Batches)
        {
            w.WriteStartObject();
            w.WriteNumber("size", size);
            w.WriteNumber("executions", executions);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();

        if (version.Cached)
        {
            long lookups = counters.CacheHits + counters.CacheMisses;
            w.WriteStartObject("cache");
            w.WriteNumber("hits", counters.CacheHits);
            w.WriteNumber("misses", counters.CacheMisses);
            Number(w, "hit_rate", lookups > 0 ? (double)counters.CacheHits / lookups : null, 4);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("cache");
        }

        if (version.Drift is { } drift)
        {
            WriteDrift(w, drift);
        }
        else
        {
            w.WriteNull("drift");
        }

        w.WriteEndObject();
    }

    private static void WriteDrift(Utf8JsonWriter w, DriftReport drift)
    {
        w.WriteStartObject("drift");
        w.WriteString("state", drift.StateName);
        w.WriteString("baseline", drift.Baseline);
        w.WriteNumber("baseline_rows", drift.BaselineRows);
        w.WriteNumber("window_rows", drift.WindowRows);
        w.WriteStartArray("features");
        foreach (FeatureDrift feature in drift.Features.Take(DriftFeatures))
        {
            w.WriteStartObject();
            w.WriteString("feature", feature.Feature);
            w.WriteNumber("psi", feature.Psi);
            w.WriteNumber("ks", feature.KolmogorovSmirnov);
            w.WriteString("state", feature.State.ToString().ToLowerInvariant());
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    // The same figures as GET /v2/admin/endpoints, /v2/admin/experiments/{e} and /v2/admin/rollouts, trimmed to what the page shows.
    private static void WriteTraffic(Utf8JsonWriter w, TrafficReading traffic)
    {
        w.WriteStartArray("endpoints");
        foreach (EndpointReading endpoint in traffic.Endpoints)
        {
            w.WriteStartObject();
            w.WriteString("name", endpoint.Name);
            w.WriteStartArray("variants");
            foreach (VariantReading variant in endpoint.Variants)
            {
                w.WriteStartObject();
                w.WriteString("name", variant.Variant.Name);
                w.WriteString("model", variant.Variant.Model);
                w.WriteString("version", variant.Variant.Version);
                w.WriteNumber("weight", variant.Variant.Weight);
                w.WriteNumber("routed", variant.Routed);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteExperiment(w, endpoint.Experiment);
            if (endpoint is { Shadow: { } shadow, ShadowFigures: { } figures })
            {
                w.WriteStartObject("shadow");
                w.WriteString("model", shadow.Model);
                w.WriteString("version", shadow.Version);
                w.WriteNumber("percent", shadow.Percent);
                w.WriteNumber("compared", figures.Compared);
                Number(w, "agreement_rate", figures.Compared > 0 ? figures.AgreementRate : null, 4);
                Number(w, "mean_absolute_difference", figures.Compared > 0 ? figures.MeanAbsoluteDifference : null, 6);
                w.WriteNumber("failed", figures.Failed);
                w.WriteNumber("dropped", figures.Dropped);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("shadow");
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("rollouts");
        foreach (RolloutReading reading in traffic.Rollouts)
        {
            Rollout rollout = reading.Rollout;
            w.WriteStartObject();
            w.WriteString("model", rollout.Model);
            w.WriteString("state", rollout.State);
            w.WriteNumber("baseline", rollout.Baseline);
            w.WriteNumber("candidate", rollout.Candidate);
            w.WriteStartArray("steps");
            foreach (int step in rollout.Steps)
            {
                w.WriteNumberValue(step);
            }

            w.WriteEndArray();
            w.WriteNumber("step", rollout.StepIndex + 1);
            w.WriteNumber("candidate_weight", rollout.CandidateWeight);
            w.WriteNumber("max_error_rate", rollout.MaxErrorRate);
            w.WriteNumber("max_p99_latency_ratio", rollout.MaxP99LatencyRatio);
            w.WriteString("step_started_at", rollout.StepStartedAt);
            WriteStepWindow(w, "baseline_step", reading.Baseline);
            WriteStepWindow(w, "candidate_step", reading.Candidate);
            if (rollout.History.Count > 0)
            {
                RolloutEvent last = rollout.History[^1];
                w.WriteStartObject("last_event");
                w.WriteString("at", last.At);
                w.WriteString("action", last.Action);
                w.WriteString("reason", last.Reason);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("last_event");
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteString("rollouts_error", traffic.RolloutsError);
    }

    private static void WriteExperiment(Utf8JsonWriter w, ExperimentReadout? readout)
    {
        if (readout is null)
        {
            w.WriteNull("experiment");
            return;
        }

        w.WriteStartObject("experiment");
        w.WriteString("metric", readout.Spec.Metric);
        w.WriteNumber("minimum_samples", readout.Spec.MinimumSamples);
        w.WriteString("decision", readout.Decision);
        w.WriteString("winner", readout.Winner);
        w.WriteString("reason", readout.Reason);
        w.WriteStartArray("variants");
        foreach (VariantReadout variant in readout.Variants)
        {
            w.WriteStartObject();
            w.WriteString("name", variant.Variant.Name);
            w.WriteNumber("assigned", variant.Assigned);
            w.WriteNumber("outcomes", variant.Outcomes.Count);
            Number(w, "mean", variant.Outcomes.Count > 0 ? variant.Outcomes.Mean : null, 6);
            Number(w, "ci_low", variant.Lower, 6);
            Number(w, "ci_high", variant.Upper, 6);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("comparisons");
        foreach (TreatmentComparison comparison in readout.Comparisons)
        {
            w.WriteStartObject();
            w.WriteString("variant", comparison.Variant);
            w.WriteString("against", readout.Variants[0].Variant.Name);
            Number(w, "difference", comparison.FixedHorizon.Difference, 6);
            Number(w, "p_value", comparison.FixedHorizon.PValue, 6);
            Number(w, "sequential_p_value", comparison.SequentialP, 6);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteStepWindow(Utf8JsonWriter w, string name, VariantWindow.Snapshot? window)
    {
        if (window is null)
        {
            w.WriteNull(name);
            return;
        }

        w.WriteStartObject(name);
        w.WriteNumber("requests", window.Requests);
        w.WriteNumber("failures", window.Failures);
        Number(w, "p99_ms", window.Requests > 0 ? window.P99Milliseconds : null, 3);
        w.WriteEndObject();
    }

    private static void Number(Utf8JsonWriter w, string name, double? value, int decimals)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, Math.Round(v, decimals));
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
