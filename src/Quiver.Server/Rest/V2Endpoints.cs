using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core;
using Quiver.Core.Models;
using Quiver.Core.Tensors;
using Quiver.Server.Security;

namespace Quiver.Server.Rest;

/// <summary>The Open Inference Protocol (KServe v2) REST endpoints. Decoding and status mapping only; no business logic.</summary>
internal static class V2Endpoints
{
    /// <summary>Protocol extensions this server implements, reported by GET /v2.</summary>
    public static readonly string[] Extensions = ["classification", "binary_tensor_data", "statistics", "model_repository", "model_configuration"];

    /// <summary>The request header carrying a routing key for an endpoint's sticky split.</summary>
    public const string RoutingKeyHeader = "X-Quiver-Routing-Key";

    /// <summary>The response header naming the endpoint variant that served a request.</summary>
    public const string VariantHeader = "X-Quiver-Variant";

    public static void MapV2(this IEndpointRouteBuilder routes, InferenceService service, QuiverServerOptions options)
    {
        ModelCatalog catalog = service.Catalog;
        routes.MapGet("/v2", (HttpContext context) =>
            WriteJsonAsync(context, 200, w => InferenceJson.WriteServerMetadata(w, "quiver", ServerInfo.Version, Extensions)));
        routes.MapGet("/v2/health/live", () => Results.Ok());
        routes.MapGet("/v2/health/ready", () => Results.Ok());

        routes.MapGet("/v2/models/{model}", (HttpContext context, string model) =>
            ModelMetadataAsync(context, catalog, model, null));
        routes.MapGet("/v2/models/{model}/versions/{version}", (HttpContext context, string model, string version) =>
            ModelMetadataAsync(context, catalog, model, version));
        routes.MapGet("/v2/models/{model}/ready", (HttpContext context, string model) =>
            ModelReadyAsync(context, catalog, model, null));
        routes.MapGet("/v2/models/{model}/versions/{version}/ready", (HttpContext context, string model, string version) =>
            ModelReadyAsync(context, catalog, model, version));

        routes.MapGet("/v2/models/stats", (HttpContext context) => StatisticsAsync(context, catalog, null, null));
        routes.MapGet("/v2/models/{model}/stats", (HttpContext context, string model) => StatisticsAsync(context, catalog, model, null));
        routes.MapGet("/v2/models/{model}/versions/{version}/stats", (HttpContext context, string model, string version) =>
            StatisticsAsync(context, catalog, model, version));

        routes.MapPost("/v2/models/{model}/infer", (HttpContext context, string model) =>
            InferAsync(context, service, options, model, null)).WithMetadata(TenantCheckedByEndpoint.Instance);
        routes.MapPost("/v2/models/{model}/versions/{version}/infer", (HttpContext context, string model, string version) =>
            InferAsync(context, service, options, model, version)).WithMetadata(TenantCheckedByEndpoint.Instance);
    }

    private static async Task InferAsync(HttpContext context, InferenceService service, QuiverServerOptions options, string model, string? version)
    {
        // The pooled body lives until the response is written: binary inputs are run straight from it, without a copy,
        // the binary part starting on an 8-byte boundary so that ONNX Runtime can read its elements where they lie.
        long? declared = BinaryTensorExtension.DeclaredJsonLength(context.Request);
        using RequestBody body = await RequestBody.ReadAsync(context.Request, options.MaxRequestBodyBytes, context.RequestAborted, declared ?? 0);
        int? jsonLength = BinaryTensorExtension.JsonLength(declared, body.Length);
        IReadOnlySet<string> sensitive = service.SensitiveInputsOf(model);
        InferenceRequest request = jsonLength is { } length
            ? InferenceJson.ReadRequest(body.Span[..length], body.Memory[length..], model, version, options.JsonLimits, sensitive)
            : InferenceJson.ReadRequest(body.Span, ReadOnlyMemory<byte>.Empty, model, version, options.JsonLimits, sensitive);

        // Another tenant's model fails here, where a missing one would: after the body decoded, before it is looked up.
        if (ModelVisibility.Of(context) is { } visibility && !await visibility.CanSeeAsync(model, context.RequestAborted))
        {
            const string Resource = "POST /v2/models/{model}/infer";
            await SecurityAudit.RecordAsync(context, SecurityAudit.HiddenModel(visibility.Principal, Resource, model));
            await WriteErrorAsync(context, StatusCodes.Status404NotFound, visibility.NotFoundMessage(model, Resource));
            return;
        }

        // The routing key of an endpoint's sticky split may come as a header instead of a parameter.
        if (context.Request.Headers[RoutingKeyHeader].ToString() is { Length: > 0 } routingKey
            && !request.Parameters.ContainsKey(InferenceService.RoutingKeyParameter))
        {
            var parameters = request.Parameters.ToDictionary(p => p.Key, p => p.Value);
            parameters[InferenceService.RoutingKeyParameter] = routingKey;
            request = request with { Parameters = new Parameters(parameters) };
        }

        InferResult result = await service.InferAsync(request, context.RequestAborted);
        if (result.Response?.Parameters.TryGetValue(InferenceService.VariantParameter, out object? variant) == true)
        {
            context.Response.Headers[VariantHeader] = (string)variant;
        }

        if (result.Error is { } error)
        {
            if (error.Kind == ErrorKind.QueueFull)
            {
                context.Response.Headers.RetryAfter = "1";
            }

            await WriteErrorAsync(context, ErrorStatus.For(error.Kind), error.Message);
            return;
        }

        if (BinaryTensorExtension.BinaryOutputs(request) is { } isBinary)
        {
            await BinaryTensorExtension.WriteResponseAsync(context, result.Response!, isBinary);
            return;
        }

        await WriteJsonAsync(context, 200, w => InferenceJson.WriteResponse(w, result.Response!));
    }

    private static async Task StatisticsAsync(HttpContext context, ModelCatalog catalog, string? model, string? version)
    {
        IReadOnlyList<ServedModel> models = catalog.ReadyVersions(model, version, out InferenceError? error);
        if (error is not null)
        {
            await WriteErrorAsync(context, ErrorStatus.For(error.Kind), error.Message);
            return;
        }

        // Every model's statistics list only the models this caller may see (a named one was checked already).
        Func<string, bool> visible = await Security.ModelVisibility.FilterAsync(context);
        var shown = models.Where(m => visible(m.Name)).ToList();
        await WriteJsonAsync(context, 200, w => ExtensionsJson.WriteStatistics(w, shown));
    }

    private static Task ModelMetadataAsync(HttpContext context, ModelCatalog catalog, string model, string? version)
    {
        ServedModel? served = catalog.Find(model, version, out InferenceError? error);
        if (served is null)
        {
            return WriteErrorAsync(context, ErrorStatus.For(error!.Kind), error.Message);
        }

        string[] versions = version is null
            ? catalog.Models[model].Where(v => v.State == ModelState.Ready).Select(v => v.Version.ToString(CultureInfo.InvariantCulture)).ToArray()
            : [served.Version.ToString(CultureInfo.InvariantCulture)];
        return WriteJsonAsync(context, 200, w =>
            InferenceJson.WriteModelMetadata(w, served.Name, versions, ServedModel.Platform, served.Inputs, served.Outputs));
    }

    // The protocol's readiness answers are status codes: 200 for ready, a 4xx for not ready.
    private static Task ModelReadyAsync(HttpContext context, ModelCatalog catalog, string model, string? version)
    {
        ServedModel? served = catalog.Find(model, version, out InferenceError? error);
        if (served is not null)
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            return Task.CompletedTask;
        }

        int status = error!.Kind == ErrorKind.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest;
        return WriteErrorAsync(context, status, error.Message);
    }

    /// <summary>Writes JSON straight into the response pipe, without an intermediate string.</summary>
    internal static async Task WriteJsonAsync(HttpContext context, int status, Action<System.Buffers.IBufferWriter<byte>> write)
    {
        using System.Diagnostics.Activity? span = Quiver.Core.Monitoring.QuiverTracing.Source.StartActivity("encode");
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        write(context.Response.BodyWriter);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    /// <summary>Writes the protocol's error object, <c>{"error": "..."}</c>.</summary>
    internal static Task WriteErrorAsync(HttpContext context, int status, string message) =>
        WriteJsonAsync(context, status, w => InferenceJson.WriteError(w, message));
}
