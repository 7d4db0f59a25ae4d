using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Models;
using Quiver.Core.Monitoring.Drift;
using Quiver.Core.Tensors;

namespace Quiver.Server.Rest;

/// <summary>Drift detection under the management API: a version's drift report, and uploading its baseline.</summary>
internal static class DriftEndpoints
{
    public static void MapDrift(this IEndpointRouteBuilder routes, ModelCatalog catalog, QuiverServerOptions options)
    {
        routes.MapGet("/v2/admin/models/{model}/drift", (HttpContext context, string model, string? version) =>
        {
            if (Watched(context, catalog, model, version, out ServedModel? served, out Task? refusal))
            {
                return V2Endpoints.WriteJsonAsync(context, 200, w => WriteReport(w, served!, served!.Drift!.Report()));
            }

            return refusal!;
        });
        routes.MapPost("/v2/admin/models/{model}/drift/baseline", async (HttpContext context, string model, string? version) =>
        {
            if (!Watched(context, catalog, model, version, out ServedModel? served, out Task? refusal))
            {
                await refusal!;
                return;
            }

            using RequestBody body = await RequestBody.ReadAsync(context.Request, options.MaxRequestBodyBytes, context.RequestAborted);
            served!.Drift!.SetBaseline(ReadBaseline(body.Memory, served.DriftFeatures, served.Config.SensitiveInputs));
            await V2Endpoints.WriteJsonAsync(context, 200, w => WriteReport(w, served, served.Drift.Report()));
        });
    }

    private static bool Watched(HttpContext context, ModelCatalog catalog, string model, string? version, out ServedModel? served, out Task? refusal)
    {
        served = catalog.Find(model, version, out InferenceError? error);
        refusal = served switch
        {
            null => V2Endpoints.WriteErrorAsync(context, ErrorStatus.For(error!.Kind), error.Message),
            { Drift: null } => V2Endpoints.WriteErrorAsync(context, StatusCodes.Status409Conflict,
                $"drift detection is off for model '{model}'; add \"drift\": true (or settings) to its config.json"),
            _ => null,
        };
        return refusal is null;
    }

    // {"features": {"input[0]": [0.1, 0.3, ...], ...}}: samples of each feature as the model saw it in training.
    private static Dictionary<string, double[]> ReadBaseline(ReadOnlyMemory<byte> json, IReadOnlyList<string> known, IReadOnlyList<string> sensitive)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException e)
        {
            throw InferenceException.InvalidArgument($"malformed JSON: {e.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("features", out JsonElement features) || features.ValueKind != JsonValueKind.Object)
        {
            throw InferenceException.InvalidArgument("the baseline must be {\"features\": {\"<input>[<column>]\": [numbers...], ...}}");
        }

        var baseline = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (JsonProperty feature in features.EnumerateObject())
        {
            if (sensitive.Any(input => feature.Name.StartsWith(input + "[", StringComparison.Ordinal)))
            {
                throw InferenceException.InvalidArgument(
                    $"baseline feature '{feature.Name}' is a column of a sensitive input, which drift watching leaves out so its values are never held; " +
                    $"its features are: {string.Join(", ", known)}");
            }

            if (!known.Contains(feature.Name))
            {
                throw InferenceException.InvalidArgument(
                    $"baseline feature '{feature.Name}' is not a column of the model's inputs or outputs; its features are: {string.Join(", ", known)}");
            }

            if (feature.Value.ValueKind != JsonValueKind.Array || feature.Value.GetArrayLength() < 10 ||
                feature.Value.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number))
            {
                throw InferenceException.InvalidArgument($"baseline feature '{feature.Name}' must be an array of at least 10 numbers");
            }

            baseline[feature.Name] = feature.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray();
        }

        return baseline.Count > 0 ? baseline : throw InferenceException.InvalidArgument("the baseline names no feature");
    }

    private static void WriteReport(System.Buffers.IBufferWriter<byte> output, ServedModel model, DriftReport report)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("model", model.Name);
        writer.WriteString("version", model.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        writer.WriteString("state", report.StateName);
        writer.WriteString("baseline", report.Baseline);
        writer.WriteNumber("baseline_rows", report.BaselineRows);
        writer.WriteNumber("window_rows", report.WindowRows);
        writer.WriteStartArray("top_drifting");
        foreach (FeatureDrift feature in report.Features.Where(f => f.State != DriftState.Ok).Take(5))
        {
            writer.WriteStringValue(feature.Feature);
        }

        writer.WriteEndArray();
        writer.WriteStartArray("features");
        foreach (FeatureDrift feature in report.Features)
        {
            writer.WriteStartObject();
            writer.WriteString("feature", feature.Feature);
            writer.WriteNumber("psi", feature.Psi);
            writer.WriteNumber("ks", feature.KolmogorovSmirnov);
            writer.WriteString("state", feature.State.ToString().ToLowerInvariant());
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
