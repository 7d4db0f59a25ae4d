using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Monitoring.Drift;
using Quiver.Core.Tensors;
using Quiver.Server.Audit;

namespace Quiver.Server.Rest;

/// <summary>Drift detection under the management API: a version's drift report, and uploading its baseline.</summary>
internal static class DriftEndpoints
{
    public static void MapDrift(this IEndpointRouteBuilder routes, ModelLifecycle lifecycle, QuiverServerOptions options)
    {
        ModelCatalog catalog = lifecycle.Catalog;
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
            Dictionary<string, double[]> baseline = DriftBaseline.Parse(body.Memory, served!.DriftFeatures, served.Config.SensitiveInputs);
            // Stored first: a baseline the registry did not keep would be lost at the next reload.
            await lifecycle.Registry.SetDriftBaselineAsync(served.Name, served.Version, JsonSerializer.Serialize(new { features = baseline }),
                context.Features.Get<Quiver.Core.Security.Principal>()?.Name ?? "api", context.RequestAborted);
            served.Drift!.SetBaseline(baseline);
            await V2Endpoints.WriteJsonAsync(context, 200, w => WriteReport(w, served, served.Drift.Report()));
        }).Audited("drift.baseline.upload", "models/{model}");
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
