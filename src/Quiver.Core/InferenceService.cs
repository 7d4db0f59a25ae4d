using System.Diagnostics;
using Quiver.Core.Caching;
using Quiver.Core.Models;
using Quiver.Core.Monitoring;
using Quiver.Core.Scheduling;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core;

/// <summary>The outcome of one inference: a response, or an expected failure as a value.</summary>
public readonly record struct InferResult(InferenceResponse? Response, InferenceError? Error)
{
    public static implicit operator InferResult(InferenceResponse response) => new(response, null);

    public static implicit operator InferResult(InferenceError error) => new(null, error);
}

/// <summary>
/// The protocol-neutral data path: find the model version, validate the request against its
/// signature, run it. Transports decode into <see cref="InferenceRequest"/> and map
/// <see cref="InferResult.Error"/> to their own status codes.
/// </summary>
public sealed class InferenceService(ModelCatalog catalog, ResponseCache? cache = null, InferenceMetrics? metrics = null,
    Monitoring.Payloads.PayloadLog? payloads = null, Routing.EndpointTable? endpoints = null)
{
    /// <summary>The request parameter holding a routing key; REST's X-Quiver-Routing-Key header is copied into it.</summary>
    public const string RoutingKeyParameter = "routing_key";

    /// <summary>The response parameter naming the variant of an endpoint that served the request.</summary>
    public const string VariantParameter = "variant";

    /// <summary>The models this service runs.</summary>
    public ModelCatalog Catalog { get; } = catalog;

    /// <summary>The result cache shared by the models that opt in; null when caching is off.</summary>
    public ResponseCache? Cache { get; } = cache;

    /// <summary>
    /// The inputs that are sensitive for a request naming <paramref name="modelOrEndpoint"/>: those of any loaded
    /// version of the model, or of any model an endpoint of that name routes or mirrors to. Decoders read it before
    /// the request is routed, so their error messages never echo such an input's values.
    /// </summary>
    public IReadOnlySet<string> SensitiveInputsOf(string modelOrEndpoint)
    {
        HashSet<string>? names = null;
        AddSensitive(modelOrEndpoint, ref names);
        if (endpoints is not null && endpoints.TryGet(modelOrEndpoint, out Routing.ServingEndpoint? endpoint))
        {
            foreach (Routing.Variant variant in endpoint.Split.Variants)
            {
                AddSensitive(variant.Model, ref names);
            }

            if (endpoint.Shadow is { } shadow)
            {
                AddSensitive(shadow.Model, ref names);
            }
        }

        return names ?? s_noNames;
    }

    private static readonly IReadOnlySet<string> s_noNames = new HashSet<string>();

    private void AddSensitive(string model, ref HashSet<string>? names)
    {
        if (!Catalog.Models.TryGetValue(model, out ModelVersionStatus[]? versions))
        {
            return;
        }

        foreach (ModelVersionStatus version in versions)
        {
            if (version.Model is { Config.SensitiveInputs: { Count: > 0 } sensitive })
            {
                (names ??= new HashSet<string>(StringComparer.Ordinal)).UnionWith(sensitive);
            }
        }
    }

    /// <summary>Runs one request.</summary>
    public async ValueTask<InferResult> InferAsync(InferenceRequest request, CancellationToken cancellationToken)
    {
        // A request naming an endpoint without a version is routed to one of its variants; explicit versions bypass routing.
        if (endpoints is not null && string.IsNullOrEmpty(request.ModelVersion) && endpoints.TryGet(request.ModelName, out Routing.ServingEndpoint? endpoint))
        {
            return await RouteAsync(request, endpoint, endpoints, cancellationToken).ConfigureAwait(false);
        }

        return await InferWithRetryAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<InferResult> RouteAsync(InferenceRequest request, Routing.ServingEndpoint endpoint, Routing.EndpointTable table,
        CancellationToken cancellationToken)
    {
        string? key = null;
        if (request.Parameters.TryGetValue(RoutingKeyParameter, out object? given))
        {
            key = given as string ?? (given is bool ? null : Convert.ToString(given, System.Globalization.CultureInfo.InvariantCulture));
            if (key is null)
            {
                return new InferenceError(ErrorKind.InvalidArgument, $"the '{RoutingKeyParameter}' parameter must be a string or a number.");
            }
        }

        using Activity? span = QuiverTracing.Source.StartActivity("route " + request.ModelName);
        Routing.Variant variant;
        try
        {
            variant = table.Route(request.ModelName, endpoint, key);
        }
        catch (ArgumentException e)
        {
            return new InferenceError(ErrorKind.InvalidArgument, e.Message);
        }

        span?.SetTag("endpoint", request.ModelName).SetTag("variant", variant.Name).SetTag("model", variant.Model).SetTag("version", variant.Version);

        long started = Stopwatch.GetTimestamp();
        InferResult result = await InferWithRetryAsync(
            request with { ModelName = variant.Model, ModelVersion = variant.Version.Length == 0 ? null : variant.Version }, cancellationToken)
            .ConfigureAwait(false);
        TimeSpan latency = Stopwatch.GetElapsedTime(started);
        table.RecordOutcome(request.ModelName, variant.Name, result.Error is null, latency);
        if (result.Response is not { } response)
        {
            return result;
        }

        if (endpoint.Shadow is { } shadow)
        {
            table.Shadows.MaybeMirror(request.ModelName, shadow, request, response, latency, InferWithRetryAsync);
        }

        var parameters = new Dictionary<string, object>(response.Parameters.Count + 1);
        foreach ((string name, object value) in response.Parameters)
        {
            parameters[name] = value;
        }

        parameters[VariantParameter] = variant.Name;

        // An experiment's request is remembered under its id (one is made up when the client sent none), for feedback.
        string? id = response.Id;
        if (endpoint.Experiment is not null)
        {
            id ??= Guid.NewGuid().ToString("N");
            table.Experiments.Assign(id, request.ModelName, variant.Name, table.Time.GetUtcNow());
        }

        return response with { ModelName = request.ModelName, Id = id, Parameters = new Parameters(parameters) };
    }

    private async ValueTask<InferResult> InferWithRetryAsync(InferenceRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await InferOnceAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // A hot swap replaced the version between finding it and queuing on it: the request goes to the new one.
        }

        try
        {
            return await InferOnceAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return new InferenceError(ErrorKind.Unavailable,
                $"model '{request.ModelName}' was unloaded before the request could run; retry it");
        }
    }

    private async ValueTask<InferResult> InferOnceAsync(InferenceRequest request, CancellationToken cancellationToken)
    {
        ServedModel? model = Catalog.Find(request.ModelName, request.ModelVersion, out InferenceError? notFound);
        if (model is null)
        {
            metrics?.RecordRejected("", notFound!.Kind); // the name is the client's: not a label, or anyone could grow the series without bound
            return notFound!;
        }

        long start = Stopwatch.GetTimestamp();
        InferResult result;
        try
        {
            result = Cache is not null && model.Config.ResponseCache
                ? await RunCachedAsync(model, request, Cache, cancellationToken).ConfigureAwait(false)
                : await RunAsync(model, request, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            model.Statistics.RecordRequest(success: false, start); // cancelled or past its deadline
            throw;
        }

        model.Statistics.RecordRequest(result.Error is null, start);
        if (result.Response is { } response)
        {
            model.Drift?.Observe(request.Inputs, response.Outputs);
            payloads?.Record(model, request, response);
        }

        metrics?.RecordRequest(model.Name, model.VersionText, result.Error is null, Stopwatch.GetElapsedTime(start));
        if (result.Error is { } error)
        {
            metrics?.RecordRejected(model.Name, error.Kind);
        }

        return result;
    }

    private static async ValueTask<InferResult> RunCachedAsync(ServedModel model, InferenceRequest request, ResponseCache cache,
        CancellationToken cancellationToken)
    {
        long lookup = Stopwatch.GetTimestamp();
        string key = ResponseCache.KeyOf(model, request);
        if (cache.TryGet(key, out IReadOnlyList<InferenceTensor> outputs))
        {
            model.Statistics.RecordCacheHit(Stopwatch.GetElapsedTime(lookup));
            return new InferenceResponse
            {
                ModelName = model.Name,
                ModelVersion = model.VersionText,
                Id = request.Id,
                Outputs = outputs,
                Parameters = s_cacheHit,
            };
        }

        TimeSpan missed = Stopwatch.GetElapsedTime(lookup);
        InferResult result = await RunAsync(model, request, cancellationToken).ConfigureAwait(false);
        if (result.Response is { } response)
        {
            long insert = Stopwatch.GetTimestamp();
            cache.Add(key, response.Outputs);
            model.Statistics.RecordCacheMiss(missed + Stopwatch.GetElapsedTime(insert));
        }

        return result;
    }

    // Tells the client the response came from the cache.
    private static readonly Parameters s_cacheHit = new(new Dictionary<string, object> { ["cache_hit"] = true });

    private static async ValueTask<InferResult> RunAsync(ServedModel model, InferenceRequest request, CancellationToken cancellationToken)
    {
        InferenceError? invalid = CheckElementCap(request, model)
            ?? RequestValidator.Validate(request, model.Inputs, model.Outputs, model.Config.MaxBatchSize)
            ?? CheckClassification(request, model);
        if (invalid is not null)
        {
            return invalid;
        }

        try
        {
            return await model.InferAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (InferenceException e)
        {
            return e.Error;
        }
        catch (QueueFullException e)
        {
            return new InferenceError(ErrorKind.QueueFull, e.Message);
        }
        catch (DeadlineExceededException e)
        {
            return new InferenceError(ErrorKind.DeadlineExceeded, e.Message);
        }
        catch (ArgumentException e)
        {
            // A config.pbtxt reshape whose element count differs from the request's.
            return new InferenceError(ErrorKind.InvalidArgument, $"model '{model.Name}' cannot take the request: {e.Message}");
        }
        catch (OnnxRuntimeException e) when (e.ErrorCode is OrtErrorCode.InvalidArgument or OrtErrorCode.Fail)
        {
            // Shapes that fit each input alone but not the graph (e.g. two inputs that cannot broadcast):
            // ORT reports these as INVALID_ARGUMENT, or as FAIL from the kernel that hit them.
            return new InferenceError(ErrorKind.InvalidArgument, $"model '{model.Name}' rejected the request: {e.Message}");
        }
        catch (OnnxRuntimeException e)
        {
            return new InferenceError(ErrorKind.Internal, $"model '{model.Name}' version {model.Version} failed: {e.Message}");
        }
    }

    // max_tensor_elements: the model's own cap on the work one request may ask for, over all its inputs.
    private static InferenceError? CheckElementCap(InferenceRequest request, ServedModel model)
    {
        long cap = model.Config.MaxTensorElements;
        if (cap <= 0)
        {
            return null;
        }

        long total = 0;
        foreach (InferenceTensor input in request.Inputs)
        {
            long count = Shapes.ElementCount(input.Shape);
            total = count < 0 || total + count < total ? long.MaxValue : total + count;
        }

        return total <= cap
            ? null
            : new InferenceError(ErrorKind.InvalidArgument,
                $"the request has {total} tensor elements over its inputs, more than model '{model.Name}' accepts per request " +
                $"(max_tensor_elements {cap} in its config.json); send fewer rows per request");
    }

    private static InferenceError? CheckClassification(InferenceRequest request, ServedModel model)
    {
        if (request.Outputs is not { } outputs)
        {
            return null;
        }

        foreach (RequestedOutput output in outputs)
        {
            foreach (TensorSpec spec in model.Outputs)
            {
                if (spec.Name == output.Name && Classification.Check(output, spec) is { } message)
                {
                    return new InferenceError(ErrorKind.InvalidArgument, message);
                }
            }
        }

        return null;
    }
}
