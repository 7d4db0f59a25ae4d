using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Routing;
using Quiver.Core.Routing.Statistics;
using Quiver.Server.Audit;
using Quiver.Server.Security;

namespace Quiver.Server.Rest;

/// <summary>
/// A/B tests on endpoints: <c>POST /v2/feedback</c> takes a request's outcome, <c>GET /v2/admin/experiments/{e}</c>
/// reads the statistics and the decision, <c>POST .../conclude</c> sends all traffic to the winner and promotes it.
/// An experiment is an endpoint whose definition has an <c>experiment</c> section (see <see cref="ExperimentSpec"/>).
/// </summary>
internal static class ExperimentEndpoints
{
    public static void MapExperiments(this IEndpointRouteBuilder routes, ModelLifecycle lifecycle, QuiverServerOptions options)
    {
        EndpointTable table = lifecycle.Endpoints;
        routes.MapPost("/v2/feedback", async (HttpContext context) =>
        {
            using JsonDocument? body = await RepositoryEndpoints.ReadBodyAsync(context, options);
            JsonElement root = body?.RootElement ?? default;
            string id = body is not null && root.TryGetProperty("id", out JsonElement idElement) && idElement.ValueKind == JsonValueKind.String
                ? idElement.GetString()!
                : throw RegistryException.Invalid("feedback must be {\"id\": \"<the response's id>\", \"outcome\": true | false | <number>}.");
            if (!root.TryGetProperty("outcome", out JsonElement outcomeElement))
            {
                throw RegistryException.Invalid("feedback needs an \"outcome\".");
            }

            DateTimeOffset now = table.Time.GetUtcNow();
            string endpointName = table.Experiments.EndpointOf(id, now) is { } known && table.TryGet(known, out _) && await ModelVisibility.AllowsAsync(context, known)
                ? known
                : throw RegistryException.NotFound($"no experiment request with id '{id}' is known here (unknown, or older than {ExperimentLedger.Retention.TotalDays} days).");
            table.TryGet(endpointName, out ServingEndpoint? endpoint);
            double outcome = ReadOutcome(outcomeElement, endpoint!.Experiment!);
            switch (table.Experiments.Record(id, outcome, endpoint, endpointName, now))
            {
                case FeedbackOutcome.Duplicate:
                    throw RegistryException.Conflict($"request '{id}' already has its outcome; the first one counts.");
                case FeedbackOutcome.UnknownRequest:
                    throw RegistryException.NotFound($"no experiment request with id '{id}' is known here.");
            }

            await AdminEndpoints.WriteAsync(context, 200, w =>
            {
                w.WriteString("id", id);
                w.WriteString("endpoint", endpointName);
                w.WriteNumber("outcome", outcome);
            });
        });

        routes.MapGet("/v2/admin/experiments/{endpoint}", async (HttpContext context, string endpoint) =>
        {
            ExperimentReadout readout = ExperimentReadout.Compute(endpoint, await RequireExperimentAsync(context, table, endpoint), table.Experiments);
            await AdminEndpoints.WriteAsync(context, 200, w => WriteReadout(w, readout));
        });

        routes.MapPost("/v2/admin/experiments/{endpoint}/conclude", async (HttpContext context, string endpoint) =>
        {
            ServingEndpoint experiment = await RequireExperimentAsync(context, table, endpoint);
            using JsonDocument? body = await RepositoryEndpoints.ReadBodyAsync(context, options);
            string? chosen = body?.RootElement.TryGetProperty("winner", out JsonElement given) == true
                ? given.ValueKind == JsonValueKind.String ? given.GetString() : throw RegistryException.Invalid("\"winner\" must be a variant's name.")
                : ExperimentReadout.Compute(endpoint, experiment, table.Experiments).Winner;
            Variant winner = experiment.Split.Variants.FirstOrDefault(v => v.Name == chosen) ?? throw (chosen is null
                ? RegistryException.Conflict($"experiment '{endpoint}' has no winner yet; pass {{\"winner\": \"<variant>\"}} to choose one.")
                : RegistryException.NotFound($"experiment '{endpoint}' has no variant '{chosen}'."));

            // All traffic to the winner, the experiment ended; a numbered version also becomes the model's production.
            string actor = context.Request.Headers[AdminEndpoints.ActorHeader].ToString() is { Length: > 0 } name ? name : "api";
            var concluded = new ServingEndpoint(VariantSplit.Create(endpoint, [winner with { Weight = 100 }]), null);
            await lifecycle.Registry.SetEndpointAsync(endpoint, EndpointDefinition.ToJson(concluded), actor, context.RequestAborted);
            bool promoted = long.TryParse(winner.Version, NumberStyles.None, CultureInfo.InvariantCulture, out long version);
            if (promoted)
            {
                await lifecycle.Registry.SetAliasAsync(winner.Model, ModelCatalog.DefaultAlias, version, actor, context.RequestAborted);
                await lifecycle.ReconcileAsync(winner.Model, context.RequestAborted);
            }

            await lifecycle.RefreshEndpointsAsync(context.RequestAborted);
            await AdminEndpoints.WriteAsync(context, 200, w =>
            {
                w.WriteString("endpoint", endpoint);
                w.WriteString("winner", winner.Name);
                w.WriteString("model", winner.Model);
                w.WriteString("version", winner.Version);
                w.WriteBoolean("promoted", promoted);
            });
        }).Audited("experiments.conclude", "experiments/{endpoint}");
    }

    // Another tenant's experiment (one sending requests to a model the caller may not see) reads as none.
    private static async Task<ServingEndpoint> RequireExperimentAsync(HttpContext context, EndpointTable table, string endpoint) =>
        table.TryGet(endpoint, out ServingEndpoint? found) && found.Experiment is not null && await ModelVisibility.AllowsAsync(context, endpoint)
            ? found
            : throw RegistryException.NotFound($"endpoint '{endpoint}' does not exist or runs no experiment.");

    // Binary metrics take true/false or 1/0; numeric ones any finite number.
    private static double ReadOutcome(JsonElement outcome, ExperimentSpec spec)
    {
        if (spec.Metric == ExperimentSpec.Binary)
        {
            return outcome.ValueKind switch
            {
                JsonValueKind.True => 1,
                JsonValueKind.False => 0,
                JsonValueKind.Number when outcome.TryGetDouble(out double value) && value is 0 or 1 => value,
                _ => throw RegistryException.Invalid($"this experiment's metric is binary: the outcome must be true, false, 1 or 0, got {outcome.GetRawText()}."),
            };
        }

        return outcome.ValueKind == JsonValueKind.Number && outcome.TryGetDouble(out double number) && double.IsFinite(number)
            ? number
            : throw RegistryException.Invalid($"this experiment's metric is numeric: the outcome must be a number, got {outcome.GetRawText()}.");
    }

    private static void WriteReadout(Utf8JsonWriter w, ExperimentReadout readout)
    {
        w.WriteString("endpoint", readout.Endpoint);
        w.WriteString("metric", readout.Spec.Metric);
        w.WriteNumber("minimum_samples", readout.Spec.MinimumSamples);
        w.WriteNumber("alpha", readout.Spec.Alpha);
        w.WriteString("decision", readout.Decision);
        w.WriteString("winner", readout.Winner);
        w.WriteString("reason", readout.Reason);
        w.WriteStartArray("variants");
        foreach (VariantReadout variant in readout.Variants)
        {
            w.WriteStartObject();
            w.WriteString("name", variant.Variant.Name);
            w.WriteString("model", variant.Variant.Model);
            w.WriteString("version", variant.Variant.Version);
            w.WriteNumber("weight", variant.Variant.Weight);
            w.WriteNumber("assigned", variant.Assigned);
            w.WriteNumber("outcomes", variant.Outcomes.Count);
            WriteNumber(w, "mean", variant.Outcomes.Count > 0 ? variant.Outcomes.Mean : double.NaN);
            WriteNumber(w, "ci_low", variant.Lower);
            WriteNumber(w, "ci_high", variant.Upper);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("comparisons");
        foreach (TreatmentComparison comparison in readout.Comparisons)
        {
            Comparison test = comparison.FixedHorizon;
            w.WriteStartObject();
            w.WriteString("variant", comparison.Variant);
            w.WriteString("against", readout.Variants[0].Variant.Name);
            w.WriteString("test", comparison.Test);
            WriteNumber(w, "difference", test.Difference);
            WriteNumber(w, "ci_low", test.Lower);
            WriteNumber(w, "ci_high", test.Upper);
            WriteNumber(w, "statistic", test.Statistic);
            WriteNumber(w, "p_value", test.PValue);
            WriteNumber(w, "sequential_p_value", comparison.SequentialP);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    // JSON has no NaN or infinity: those are written as null.
    private static void WriteNumber(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value))
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
