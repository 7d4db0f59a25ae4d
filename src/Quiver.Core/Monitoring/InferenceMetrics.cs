using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Quiver.Core.Models;
using Quiver.Core.Tensors;

namespace Quiver.Core.Monitoring;

/// <summary>
/// The server's metrics as System.Diagnostics.Metrics instruments on one <see cref="Meter"/> per server: Triton's
/// <c>nv_inference_*</c> counters (labels model and version) observed from each version's statistics, so
/// Triton dashboards work unchanged, plus Quiver's own latency histogram, rejections, queue depth, cache and
/// batch counters, and process figures.
/// </summary>
public sealed class InferenceMetrics : IDisposable
{
    /// <summary>The meter's name; an exporter listens to this meter instance.</summary>
    public const string MeterName = "Quiver";

    /// <summary>The name of the request latency histogram (seconds, labels model, version and outcome).</summary>
    public const string RequestDurationName = "quiver_request_duration_seconds";

    private readonly Counter<long> _authFailures;
    private readonly ModelCatalog _catalog;
    private readonly Routing.EndpointTable? _endpoints;
    private readonly Histogram<double> _requestDuration;
    private readonly Counter<long> _rejected;

    public InferenceMetrics(ModelCatalog catalog, Routing.EndpointTable? endpoints = null)
    {
        _catalog = catalog;
        _endpoints = endpoints;
        Meter = new Meter(MeterName);
        ObserveCount("nv_inference_request_success", "Number of successful inference requests, all batch sizes", s => s.Success.Count);
        ObserveCount("nv_inference_request_failure", "Number of failed inference requests, all batch sizes", s => s.Fail.Count);
        ObserveCount("nv_inference_count", "Number of inferences performed (a batched request counts its batch size)", s => s.InferenceCount);
        ObserveCount("nv_inference_exec_count", "Number of model executions performed", s => s.ExecutionCount);
        ObserveCount("nv_inference_request_duration_us", "Cumulative inference request duration in microseconds", s => (s.Success.Ns + s.Fail.Ns) / 1000);
        ObserveCount("nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds", s => s.Queue.Ns / 1000);
        ObserveCount("nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds", s => s.ComputeInput.Ns / 1000);
        ObserveCount("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds", s => s.ComputeInfer.Ns / 1000);
        ObserveCount("nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds", s => s.ComputeOutput.Ns / 1000);
        ObserveCount("quiver_cache_hits_total", "Requests answered from the result cache", s => s.CacheHit.Count);
        ObserveCount("quiver_cache_misses_total", "Requests of cached models the result cache could not answer", s => s.CacheMiss.Count);
        Meter.CreateObservableCounter("quiver_batch_executions_total", ObserveBatches, description: "Model executions by batch size");
        Meter.CreateObservableGauge("quiver_queue_depth", ObserveQueues, description: "Requests waiting for an instance");
        Meter.CreateObservableGauge("quiver_model_ready", ObserveReadiness, description: "1 for each version that serves, 0 for one that does not");
        Meter.CreateObservableGauge("quiver_model_execution_provider", ObserveProviders,
            description: "1 for each execution provider a ready version's sessions run on (after any fallback)");
        Meter.CreateObservableGauge("quiver_drift_psi", ObserveDriftScores, description: "Population Stability Index of each watched feature against its baseline");
        Meter.CreateObservableGauge("quiver_drift_state", ObserveDriftStates, description: "Drift state of each watched version: 0 ok, 1 warning, 2 drifting");
        Meter.CreateObservableCounter("quiver_variant_requests_total", ObserveVariants, description: "Requests routed to each variant of an endpoint");
        Meter.CreateObservableGauge("quiver_rollout_candidate_percent", ObserveRollouts,
            description: "The candidate's share of a model's traffic in its running canary rollout, in percent");
        Meter.CreateObservableGauge("process_resident_memory_bytes", () => Process.GetCurrentProcess().WorkingSet64,
            description: "Resident memory size in bytes");
        Meter.CreateObservableCounter("process_cpu_seconds_total", () => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
            description: "Total user and system CPU time spent in seconds");
        _requestDuration = Meter.CreateHistogram<double>(RequestDurationName, "s",
            "Inference request duration, from decoding to response, by outcome");
        _rejected = Meter.CreateCounter<long>("quiver_rejected_requests_total", description: "Requests refused, by reason");
        _authFailures = Meter.CreateCounter<long>("quiver_auth_failures_total",
            description: "Requests refused by authentication (unauthenticated) or authorization (forbidden, hidden_model)");
    }

    /// <summary>This server's meter.</summary>
    public Meter Meter { get; }

    /// <summary>Records one request's end to end duration inside the engine.</summary>
    public void RecordRequest(string model, string version, bool success, TimeSpan duration) =>
        _requestDuration.Record(duration.TotalSeconds,
            new KeyValuePair<string, object?>("model", model),
            new KeyValuePair<string, object?>("version", version),
            new KeyValuePair<string, object?>("outcome", success ? "success" : "failure"));

    /// <summary>Records a refused request by reason (queue_full, deadline_exceeded, invalid_argument, not_found, unavailable).</summary>
    public void RecordRejected(string model, ErrorKind kind) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("reason", ReasonOf(kind)));

    /// <summary>Records a request that authentication or authorization refused: unauthenticated, forbidden or hidden_model.</summary>
    public void RecordAuthFailure(string reason) => _authFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>Records a request refused by a rate or concurrency limit, by which one (e.g. principal_rate_limit).</summary>
    public void RecordLimited(string reason) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("model", ""), new KeyValuePair<string, object?>("reason", reason));

    public void Dispose() => Meter.Dispose();

    private IEnumerable<Measurement<long>> ObserveVariants() => (_endpoints?.Routed ?? []).Select(r =>
        new Measurement<long>(r.Value, new KeyValuePair<string, object?>("endpoint", r.Key.Endpoint), new KeyValuePair<string, object?>("variant", r.Key.Variant)));

    // A rollout routes its model through an endpoint of the model's name with a "candidate" variant.
    private IEnumerable<Measurement<double>> ObserveRollouts() => (_endpoints?.Endpoints ?? new Dictionary<string, Routing.ServingEndpoint>())
        .SelectMany(e => e.Value.Split.Variants.Where(v => v.Name == "candidate" && v.Model == e.Key)
            .Select(v => new Measurement<double>(v.Weight, new KeyValuePair<string, object?>("model", e.Key))));

    private static string ReasonOf(ErrorKind kind) => kind switch
    {
        ErrorKind.QueueFull => "queue_full",
        ErrorKind.DeadlineExceeded => "deadline_exceeded",
        ErrorKind.InvalidArgument => "invalid_argument",
        ErrorKind.NotFound => "not_found",
        ErrorKind.Unavailable => "unavailable",
        ErrorKind.PayloadTooLarge => "payload_too_large",
        _ => "internal",
    };

    private void ObserveCount(string name, string description, Func<StatisticsSnapshot, long> read) =>
        Meter.CreateObservableCounter(name, () => ReadyModels().Select(m => new Measurement<long>(read(m.Statistics.Snapshot()), Labels(m))),
            description: description);

    private IEnumerable<Measurement<long>> ObserveBatches() =>
        ReadyModels().SelectMany(m => m.Statistics.Snapshot().BatchStats.Select(b => new Measurement<long>(b.ComputeInfer.Count,
            [.. Labels(m), new KeyValuePair<string, object?>("batch_size", b.BatchSize.ToString(CultureInfo.InvariantCulture))])));

    private IEnumerable<Measurement<double>> ObserveDriftScores() =>
        ReadyModels().Where(m => m.Drift is not null).SelectMany(m => m.Drift!.Report().Features.Select(f =>
            new Measurement<double>(f.Psi, [.. Labels(m), new KeyValuePair<string, object?>("feature", f.Feature)])));

    private IEnumerable<Measurement<long>> ObserveDriftStates() =>
        ReadyModels().Where(m => m.Drift is not null).Select(m => new Measurement<long>((long)m.Drift!.Report().State, Labels(m)));

    private IEnumerable<Measurement<long>> ObserveQueues() =>
        ReadyModels().Select(m => new Measurement<long>(m.QueueDepth, Labels(m)));

    private IEnumerable<Measurement<long>> ObserveReadiness() =>
        _catalog.Models.Values.SelectMany(versions => versions).Select(v => new Measurement<long>(v.State == ModelState.Ready ? 1 : 0,
            new KeyValuePair<string, object?>("model", v.ModelName),
            new KeyValuePair<string, object?>("version", v.Version.ToString(CultureInfo.InvariantCulture))));

    private IEnumerable<Measurement<long>> ObserveProviders() =>
        ReadyModels().SelectMany(m => m.ExecutionProviders.Select(provider => new Measurement<long>(1,
            [.. Labels(m), new KeyValuePair<string, object?>("provider", provider)])));

    private IEnumerable<ServedModel> ReadyModels() =>
        _catalog.Models.Values.SelectMany(versions => versions).Where(v => v.State == ModelState.Ready).Select(v => v.Model!);

    private static KeyValuePair<string, object?>[] Labels(ServedModel model) =>
    [
        new("model", model.Name),
        new("version", model.Version.ToString(CultureInfo.InvariantCulture)),
    ];
}
