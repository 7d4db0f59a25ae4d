using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Registry;
using Quiver.Core.Routing;
using Quiver.Server.Audit;
using Quiver.Server.Security;

namespace Quiver.Server.Rest;

/// <summary>Canary rollouts under <c>/v2/admin/rollouts</c>: start one, read its state and history, pause, resume, abort or promote it.</summary>
internal static class RolloutEndpoints
{
    public static void MapRollouts(this IEndpointRouteBuilder routes, RolloutController controller, EndpointTable table, QuiverServerOptions options)
    {
        routes.MapPost("/v2/admin/rollouts", async (HttpContext context) =>
        {
            using JsonDocument? body = await RepositoryEndpoints.ReadBodyAsync(context, options);
            JsonElement root = body?.RootElement ?? throw RegistryException.Invalid(
                "the body must be {\"model\": \"m\", \"to\": 3, \"steps\": [5, 25, 50, 100], \"interval_seconds\": 120, " +
                "\"max_error_rate\": 0.01, \"max_p99_latency_ratio\": 1.5, \"minimum_requests\": 20}.");
            string model = root.TryGetProperty("model", out JsonElement m) && m.ValueKind == JsonValueKind.String
                ? m.GetString()! : throw RegistryException.Invalid("\"model\" must name the model to roll out.");
            AuditScope.SetResource(context, $"rollouts/{model}");
            long to = root.TryGetProperty("to", out JsonElement t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out long v) && v > 0
                ? v : throw RegistryException.Invalid("\"to\" must be the candidate version's number.");
            int[] steps = root.TryGetProperty("steps", out JsonElement s)
                ? s.ValueKind == JsonValueKind.Array && s.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _))
                    ? [.. s.EnumerateArray().Select(e => e.GetInt32())]
                    : throw RegistryException.Invalid("\"steps\" must be an array of whole percentages, e.g. [5, 25, 50, 100].")
                : [5, 25, 50, 100];
            Rollout started = await controller.StartAsync(model, to, steps,
                Number(root, "interval_seconds", 120), Number(root, "max_error_rate", 0.01), Number(root, "max_p99_latency_ratio", 1.5),
                (int)Number(root, "minimum_requests", 20), hidden: !await ModelVisibility.AllowsAsync(context, model), context.RequestAborted);
            AuditScope.Note(context, "baseline", started.Baseline);
            AuditScope.Note(context, "candidate", started.Candidate);
            AuditScope.Note(context, "steps", steps);
            await WriteRolloutAsync(context, 201, started, table);
        }).Audited("rollouts.start", "rollouts");

        routes.MapGet("/v2/admin/rollouts", async (HttpContext context) =>
        {
            IReadOnlyDictionary<string, Rollout> rollouts = await controller.ReadAsync(context.RequestAborted);
            Func<string, bool> visible = await ModelVisibility.FilterAsync(context);
            await AdminEndpoints.WriteAsync(context, 200, w =>
            {
                w.WriteStartArray("rollouts");
                foreach (Rollout rollout in rollouts.Values.Where(r => visible(r.Model)).OrderBy(r => r.Model, StringComparer.Ordinal))
                {
                    w.WriteRawValue(rollout.ToJson());
                }

                w.WriteEndArray();
            });
        });

        routes.MapGet("/v2/admin/rollouts/{model}", async (HttpContext context, string model) =>
        {
            Rollout rollout = (await controller.ReadAsync(context.RequestAborted)).GetValueOrDefault(model)
                ?? throw RegistryException.NoRollout(model);
            await WriteRolloutAsync(context, 200, rollout, table);
        });

        routes.MapPost("/v2/admin/rollouts/{model}/{action}", async (HttpContext context, string model, string action) =>
        {
            string actor = context.Request.Headers[AdminEndpoints.ActorHeader].ToString() is { Length: > 0 } given ? given : "api";
            Rollout rollout = await controller.ActAsync(model, action, actor, context.RequestAborted);
            await WriteRolloutAsync(context, 200, rollout, table);
        }).Audited("rollouts.{action}", "rollouts/{model}");
    }

    private static double Number(JsonElement root, string name, double fallback) =>
        !root.TryGetProperty(name, out JsonElement value) ? fallback
        : value.ValueKind == JsonValueKind.Number ? value.GetDouble()
        : throw RegistryException.Invalid($"\"{name}\" must be a number.");

    // The stored state, the candidate's share now, and this server's figures for the step so far.
    private static Task WriteRolloutAsync(HttpContext context, int status, Rollout rollout, EndpointTable table) =>
        AdminEndpoints.WriteAsync(context, status, w =>
        {
            w.WritePropertyName("rollout");
            w.WriteRawValue(rollout.ToJson());
            w.WriteNumber("candidate_weight", rollout.CandidateWeight);
            w.WriteStartObject("step_window");
            foreach (string variant in new[] { "baseline", "candidate" })
            {
                VariantWindow.Snapshot window = table.PeekWindow(rollout.Model, variant);
                w.WriteStartObject(variant);
                w.WriteNumber("requests", window.Requests);
                w.WriteNumber("failures", window.Failures);
                w.WriteNumber("p99_ms", window.P99Milliseconds);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        });
}
