using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Routing;
using Quiver.Core.Tensors;
using Quiver.Server.Audit;

namespace Quiver.Server.Rest;

/// <summary>
/// Endpoints under <c>/v2/admin/endpoints</c>: a name clients use as a model name, split by weight between variants
/// (a model with a version or alias each). Definitions live in the registry, so every replica routes alike.
/// </summary>
internal static class EndpointAdminEndpoints
{
    public static void MapEndpointAdmin(this IEndpointRouteBuilder routes, ModelLifecycle lifecycle, QuiverServerOptions options)
    {
        EndpointTable table = lifecycle.Endpoints;
        routes.MapGet("/v2/admin/endpoints", (HttpContext context) => AdminEndpoints.WriteAsync(context, 200, w =>
        {
            w.WriteStartArray("endpoints");
            foreach ((string name, ServingEndpoint endpoint) in table.Endpoints.OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                w.WriteStartObject();
                WriteEndpoint(w, table, name, endpoint);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }));

        routes.MapGet("/v2/admin/endpoints/{endpoint}", (HttpContext context, string endpoint) =>
            table.TryGet(endpoint, out ServingEndpoint? found)
                ? AdminEndpoints.WriteAsync(context, 200, w => WriteEndpoint(w, table, endpoint, found))
                : throw RegistryException.NotFound($"endpoint '{endpoint}' does not exist."));

        routes.MapPut("/v2/admin/endpoints/{endpoint}", async (HttpContext context, string endpoint) =>
        {
            using RequestBody body = await RequestBody.ReadAsync(context.Request, options.MaxRequestBodyBytes, context.RequestAborted);
            ServingEndpoint defined;
            try
            {
                defined = EndpointDefinition.Parse(endpoint, Encoding.UTF8.GetString(body.Span));
            }
            catch (ArgumentException e)
            {
                throw RegistryException.Invalid(e.Message);
            }

            RequireServable(lifecycle.Catalog, defined.Split);
            if (defined.Shadow is { } shadow && lifecycle.Catalog.Find(shadow.Model, shadow.Version.Length == 0 ? null : shadow.Version, out InferenceError? noShadow) is null)
            {
                throw RegistryException.NotFound($"the shadow cannot serve: {noShadow!.Message}");
            }

            string actor = context.Request.Headers[AdminEndpoints.ActorHeader].ToString() is { Length: > 0 } given ? given : "api";
            await lifecycle.Registry.SetEndpointAsync(endpoint, EndpointDefinition.ToJson(defined), actor, context.RequestAborted);
            table.Experiments.Reset(endpoint); // a redefined endpoint starts its experiment afresh
            await lifecycle.RefreshEndpointsAsync(context.RequestAborted);
            await AdminEndpoints.WriteAsync(context, 200, w => WriteEndpoint(w, table, endpoint, defined));
        }).Audited("endpoints.set", "endpoints/{endpoint}");

        routes.MapDelete("/v2/admin/endpoints/{endpoint}", async (HttpContext context, string endpoint) =>
        {
            await lifecycle.Registry.RemoveEndpointAsync(endpoint, context.RequestAborted);
            await lifecycle.RefreshEndpointsAsync(context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status200OK;
        }).Audited("endpoints.remove", "endpoints/{endpoint}");
    }

    // Every variant with traffic must be servable now, so an endpoint never starts out sending requests to nothing.
    private static void RequireServable(ModelCatalog catalog, VariantSplit split)
    {
        foreach (Variant variant in split.Variants.Where(v => v.Weight > 0))
        {
            if (catalog.Find(variant.Model, variant.Version.Length == 0 ? null : variant.Version, out InferenceError? error) is null)
            {
                string message = $"variant '{variant.Name}' cannot serve: {error!.Message}";
                throw error.Kind == ErrorKind.NotFound ? RegistryException.NotFound(message) : RegistryException.Conflict(message);
            }
        }
    }

    private static void WriteEndpoint(Utf8JsonWriter w, EndpointTable table, string name, ServingEndpoint endpoint)
    {
        w.WriteString("name", name);
        w.WriteBoolean("experiment", endpoint.Experiment is not null);
        w.WriteStartArray("variants");
        foreach (Variant variant in endpoint.Split.Variants)
        {
            w.WriteStartObject();
            w.WriteString("name", variant.Name);
            w.WriteString("model", variant.Model);
            w.WriteString("version", variant.Version);
            w.WriteNumber("weight", variant.Weight);
            w.WriteNumber("routed", table.RoutedTo(name, variant.Name));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        if (endpoint.Shadow is { } shadow)
        {
            ShadowTally.Snapshot figures = table.Shadows.Figures(name);
            w.WriteStartObject("shadow");
            w.WriteString("model", shadow.Model);
            w.WriteString("version", shadow.Version);
            w.WriteNumber("percent", shadow.Percent);
            w.WriteNumber("compared", figures.Compared);
            w.WriteNumber("agreement_rate", figures.AgreementRate);
            w.WriteNumber("mean_absolute_difference", figures.MeanAbsoluteDifference);
            w.WriteNumber("failed", figures.Failed);
            w.WriteNumber("dropped", figures.Dropped);
            w.WriteNumber("primary_mean_ms", figures.PrimaryMeanMs);
            w.WriteNumber("shadow_mean_ms", figures.ShadowMeanMs);
            w.WriteEndObject();
        }
    }
}
