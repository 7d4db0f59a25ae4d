using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Tensors;
using Quiver.Server.Audit;

namespace Quiver.Server.Rest;

/// <summary>The model repository and model configuration extensions over REST, as Triton defines them.</summary>
internal static class RepositoryEndpoints
{
    public static void MapRepository(this IEndpointRouteBuilder routes, ModelLifecycle lifecycle, QuiverServerOptions options)
    {
        ModelCatalog catalog = lifecycle.Catalog;
        routes.MapPost("/v2/repository/index", async (HttpContext context) =>
        {
            using JsonDocument? body = await ReadBodyAsync(context, options);
            bool readyOnly = body?.RootElement.TryGetProperty("ready", out JsonElement ready) == true && ready.ValueKind == JsonValueKind.True;
            Func<string, bool> visible = await Security.ModelVisibility.FilterAsync(context);
            var index = catalog.Index().Where(m => visible(m.Name)).ToList();
            await V2Endpoints.WriteJsonAsync(context, 200, w => ExtensionsJson.WriteIndex(w, index, readyOnly));
        });
        routes.MapPost("/v2/repository/models/{model}/load", async (HttpContext context, string model) =>
        {
            using JsonDocument? body = await ReadBodyAsync(context, options);
            string? config = ConfigParameter(body);
            InferenceError? error = await lifecycle.LoadAsync(model, config, context.RequestAborted);
            await FinishAsync(context, error);
        }).Audited("repository.load", "models/{model}");
        routes.MapPost("/v2/repository/models/{model}/unload", async (HttpContext context, string model) =>
        {
            using JsonDocument? body = await ReadBodyAsync(context, options);
            InferenceError? error = await lifecycle.UnloadAsync(model, context.RequestAborted);
            await FinishAsync(context, error);
        }).Audited("repository.unload", "models/{model}");

        routes.MapGet("/v2/models/{model}/config", (HttpContext context, string model) => ConfigAsync(context, catalog, model, null));
        routes.MapGet("/v2/models/{model}/versions/{version}/config", (HttpContext context, string model, string version) =>
            ConfigAsync(context, catalog, model, version));
    }

    private static Task ConfigAsync(HttpContext context, ModelCatalog catalog, string model, string? version)
    {
        ServedModel? served = catalog.Find(model, version, out InferenceError? error);
        return served is null
            ? V2Endpoints.WriteErrorAsync(context, ErrorStatus.For(error!.Kind), error.Message)
            : V2Endpoints.WriteJsonAsync(context, 200, w => ExtensionsJson.WriteModelConfig(w, served.EffectiveConfig()));
    }

    private static Task FinishAsync(HttpContext context, InferenceError? error)
    {
        if (error is not null)
        {
            return V2Endpoints.WriteErrorAsync(context, ErrorStatus.For(error.Kind), error.Message);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        return Task.CompletedTask;
    }

    // Triton's load request carries an optional configuration override: parameters.config, a JSON string.
    private static string? ConfigParameter(JsonDocument? body)
    {
        if (body is null || !body.RootElement.TryGetProperty("parameters", out JsonElement parameters))
        {
            return null;
        }

        if (parameters.ValueKind != JsonValueKind.Object)
        {
            throw InferenceException.InvalidArgument("\"parameters\" must be an object");
        }

        if (!parameters.TryGetProperty("config", out JsonElement config))
        {
            return null;
        }

        return config.ValueKind == JsonValueKind.String
            ? config.GetString()
            : throw InferenceException.InvalidArgument("parameters.config must be a string holding the model configuration as JSON");
    }

    /// <summary>The body as a JSON object, or null when empty; anything else is a 400 naming the problem.</summary>
    internal static async Task<JsonDocument?> ReadBodyAsync(HttpContext context, QuiverServerOptions options)
    {
        using RequestBody body = await RequestBody.ReadAsync(context.Request, options.MaxRequestBodyBytes, context.RequestAborted);
        if (body.Length == 0)
        {
            return null;
        }

        try
        {
            JsonDocument document = JsonDocument.Parse(body.Memory);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                throw InferenceException.InvalidArgument("the request body must be a JSON object");
            }

            return document;
        }
        catch (JsonException e)
        {
            throw InferenceException.InvalidArgument($"malformed JSON: {e.Message}");
        }
    }
}
