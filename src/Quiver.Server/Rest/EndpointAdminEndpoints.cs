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
using Quiver.Server.Security;

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
        routes.MapGet("/v2/admin/endpoints", async (HttpContext context) =>
        {
            Func<string, bool> visible = await ModelVisibility.FilterAsync(context);
            await AdminEndpoints.WriteAsync(context, 200, w =>
            {
                w.WriteStartArray("endpoints");
                foreach ((string name, ServingEndpoint endpoint) in table.Endpoints.OrderBy(e => e.Key, StringComparer.Ordinal))
                {
                    if (ModelVisibility.Shows(name, endpoint, visible))
                    {
                        w.WriteStartObject();
                        WriteEndpoint(w, table, name, endpoint);
                        w.WriteEndObject();
                    }
                }

                w.WriteEndArray();
            });
        });

        routes.MapGet("/v2/admin/endpoints/{endpoint}", async (HttpContext context, string endpoint) =>
        {
            ServingEndpoint found = await RequireEndpointAsync(context, table, endpoint);
            await AdminEndpoints.WriteAsync(context, 200, w => WriteEndpoint(w, table, endpoint, found));
        });

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

            await RequireServableAsync(context, lifecycle.Catalog, defined);

            // The name is global: another tenant's endpoint (or model) of that name is not this caller's to replace.
            if (!await ModelVisibility.AllowsAsync(context, endpoint))
            {
                throw RegistryException.UnknownEndpoint(endpoint);
            }

            string actor = context.Request.Headers[AdminEndpoints.ActorHeader].ToString() is { Length: > 0 } given ? given : "api";
            await lifecycle.Registry.SetEndpointAsync(endpoint, EndpointDefinition.ToJson(defined), actor, context.RequestAborted);
            table.Experiments.Reset(endpoint); // a redefined endpoint starts its experiment afresh
            await lifecycle.RefreshEndpointsAsync(context.RequestAborted);
            await AdminEndpoints.WriteAsync(context, 200, w => WriteEndpoint(w, table, endpoint, defined));
        }).Audited("endpoints.set", "endpoints/{endpoint}");

        routes.MapDelete("/v2/admin/endpoints/{endpoint}", async (HttpContext context, string endpoint) =>
        {
            if (!await ModelVisibility.AllowsAsync(context, endpoint))
            {
                throw RegistryException.UnknownEndpoint(endpoint);
            }

            await lifecycle.Registry.RemoveEndpointAsync(endpoint, context.RequestAborted);
            await lifecycle.RefreshEndpointsAsync(context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status200OK;
        }).Audited("endpoints.remove", "endpoints/{endpoint}");
    }

    /// <summary>The endpoint of that name, if the caller may see it; else the not-found every missing endpoint gets.</summary>
    private static async Task<ServingEndpoint> RequireEndpointAsync(HttpContext context, EndpointTable table, string endpoint) =>
        table.TryGet(endpoint, out ServingEndpoint? found) && await ModelVisibility.AllowsAsync(context, endpoint)
            ? found
            : throw RegistryException.UnknownEndpoint(endpoint);

    // Every variant with traffic, and the shadow, must be servable now, so an endpoint never starts out sending requests
    // to nothing. A model the caller may not see reads as missing, even on a variant without traffic (it would route there).
    private static async Task RequireServableAsync(HttpContext context, ModelCatalog catalog, ServingEndpoint defined)
    {
        foreach (Variant variant in defined.Split.Variants)
        {
            if (await CannotServeAsync(context, catalog, variant.Model, variant.Version, variant.Weight > 0) is { } error)
            {
                string message = $"variant '{variant.Name}' cannot serve: {error.Message}";
                throw error.Kind == ErrorKind.NotFound ? RegistryException.NotFound(message) : RegistryException.Conflict(message);
            }
        }

        if (defined.Shadow is { } shadow && await CannotServeAsync(context, catalog, shadow.Model, shadow.Version, mustServe: true) is { } noShadow)
        {
            throw RegistryException.NotFound($"the shadow cannot serve: {noShadow.Message}");
        }
    }

    // Why the version cannot serve (null: it can, or need not); another tenant's model is answered as a missing one.
    private static async ValueTask<InferenceError?> CannotServeAsync(HttpContext context, ModelCatalog catalog, string model, string version, bool mustServe)
    {
        if (!await ModelVisibility.AllowsAsync(context, model))
        {
            return new InferenceError(ErrorKind.NotFound, ModelCatalog.UnknownModelMessage(model));
        }

        return mustServe && catalog.Find(model, version.Length == 0 ? null : version, out InferenceError? error) is null ? error : null;
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
