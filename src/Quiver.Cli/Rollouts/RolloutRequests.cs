using System.Text.Json.Nodes;

namespace Quiver.Cli.Rollouts;

/// <summary>The body of <c>POST /v2/admin/rollouts</c>; a setting left null is not sent, so the server's default applies.</summary>
public sealed record RolloutStart
{
    public required string Model { get; init; }

    /// <summary>The candidate version.</summary>
    public required int To { get; init; }

    /// <summary>The candidate's share at each step, in percent.</summary>
    public IReadOnlyList<int>? Steps { get; init; }

    public double? IntervalSeconds { get; init; }

    /// <summary>A fraction: 0.01 is 1%.</summary>
    public double? MaxErrorRate { get; init; }

    public double? MaxP99LatencyRatio { get; init; }

    public int? MinimumRequests { get; init; }

    public JsonObject ToJson()
    {
        var body = new JsonObject { ["model"] = Model, ["to"] = To };
        if (Steps is not null)
        {
            body["steps"] = new JsonArray([.. Steps.Select(step => (JsonNode)step)]);
        }

        Add(body, "interval_seconds", IntervalSeconds);
        Add(body, "max_error_rate", MaxErrorRate);
        Add(body, "max_p99_latency_ratio", MaxP99LatencyRatio);
        if (MinimumRequests is { } minimum)
        {
            body["minimum_requests"] = minimum;
        }

        return body;
    }

    private static void Add(JsonObject body, string name, double? value)
    {
        if (value is { } number)
        {
            body[name] = number;
        }
    }
}

/// <summary>One <c>--variant name=model:version:weight</c>; an empty version is the model's default (production, else the latest).</summary>
public sealed record VariantRequest(string Name, string Model, string Version, double Weight)
{
    public JsonObject ToJson() => new() { ["name"] = Name, ["model"] = Model, ["version"] = Version, ["weight"] = Weight };
}

/// <summary><c>--shadow model:version:percent</c>.</summary>
public sealed record ShadowRequest(string Model, string Version, double Percent)
{
    public JsonObject ToJson() => new() { ["model"] = Model, ["version"] = Version, ["percent"] = Percent };
}

/// <summary><c>--experiment METRIC --minimum-samples N [--alpha A]</c>; a null alpha leaves the server's default (0.05).</summary>
public sealed record ExperimentRequest(string Metric, long MinimumSamples, double? Alpha)
{
    public JsonObject ToJson()
    {
        var body = new JsonObject { ["metric"] = Metric, ["minimum_samples"] = MinimumSamples };
        if (Alpha is { } alpha)
        {
            body["alpha"] = alpha;
        }

        return body;
    }
}

/// <summary>The body of <c>PUT /v2/admin/endpoints/{name}</c>.</summary>
public sealed record EndpointRequest(IReadOnlyList<VariantRequest> Variants, ExperimentRequest? Experiment, ShadowRequest? Shadow)
{
    public JsonObject ToJson()
    {
        var body = new JsonObject { ["variants"] = new JsonArray([.. Variants.Select(v => (JsonNode)v.ToJson())]) };
        if (Experiment is not null)
        {
            body["experiment"] = Experiment.ToJson();
        }

        if (Shadow is not null)
        {
            body["shadow"] = Shadow.ToJson();
        }

        return body;
    }
}
