using System.Text.Json;
using System.Text.Json.Serialization;

namespace Quiver.Core.Routing;

/// <summary>An endpoint: its split between variants and, when it runs an A/B test, the experiment's settings.</summary>
public sealed record ServingEndpoint(VariantSplit Split, ExperimentSpec? Experiment)
{
    /// <summary>A candidate that gets a copy of some requests, off the response path; null for none.</summary>
    public ShadowSpec? Shadow { get; init; }

    /// <summary>Every model the endpoint sends requests to: its variants' and its shadow's.</summary>
    public IEnumerable<string> TargetModels =>
        Shadow is { } shadow ? Split.Variants.Select(v => v.Model).Append(shadow.Model) : Split.Variants.Select(v => v.Model);
}

/// <summary>Mirror <see cref="Percent"/> of an endpoint's requests to a model version whose answers are compared, never returned.</summary>
public sealed record ShadowSpec(string Model, string Version, double Percent)
{
    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static ShadowSpec Check(ShadowSpec spec) =>
        string.IsNullOrEmpty(spec.Model) ? throw new ArgumentException("the shadow needs a \"model\".")
        : spec.Percent is <= 0 or > 100 ? throw new ArgumentException($"the shadow's percent must be above 0 and at most 100, got {spec.Percent}.")
        : spec with { Version = spec.Version ?? "" };
}

/// <summary>
/// An endpoint as stored in the registry and sent to the management API:
/// <c>{"variants": [{"name": "a", "model": "fraud", "version": "production", "weight": 90}, ...],
/// "experiment": {"metric": "binary", "minimum_samples": 1000, "alpha": 0.05},
/// "shadow": {"model": "fraud", "version": "4", "percent": 10}}</c> (experiment and shadow are optional).
/// </summary>
public static class EndpointDefinition
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Reads and checks a definition; throws <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static ServingEndpoint Parse(string endpoint, string json)
    {
        Body? body;
        try
        {
            body = JsonSerializer.Deserialize<Body>(json, s_json);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"the endpoint definition is not valid JSON: {e.Message}", e);
        }

        if (body?.Variants is not { } variants || variants.Any(v => v is null || string.IsNullOrEmpty(v.Name) || string.IsNullOrEmpty(v.Model)))
        {
            throw new ArgumentException(
                "the endpoint definition must be {\"variants\": [{\"name\": \"a\", \"model\": \"m\", \"version\": \"production\", \"weight\": 100}]}, " +
                "every variant with a name and a model.");
        }

        VariantSplit split = VariantSplit.Create(endpoint, variants.Select(v => new Variant(v!.Name!, v.Model!, v.Version ?? "", v.Weight)).ToArray());
        return new ServingEndpoint(split, body.Experiment is { } experiment ? ExperimentSpec.Check(experiment, split) : null)
        {
            Shadow = body.Shadow is { } shadow ? ShadowSpec.Check(shadow) : null,
        };
    }

    /// <summary>The stored form of a split.</summary>
    public static string ToJson(ServingEndpoint endpoint) =>
        JsonSerializer.Serialize(
            new Body(endpoint.Split.Variants.Select(v => new VariantBody(v.Name, v.Model, v.Version, v.Weight)).ToArray(), endpoint.Experiment, endpoint.Shadow), s_json);

    private sealed record Body(VariantBody?[]? Variants, ExperimentSpec? Experiment, ShadowSpec? Shadow = null);

    private sealed record VariantBody(string? Name, string? Model, string? Version, double Weight);
}
