using System.Text.Json;
using System.Text.Json.Serialization;

namespace Quiver.Core.Routing;

/// <summary>An endpoint: its split between variants and, when it runs an A/B test, the experiment's settings.</summary>
public sealed record ServingEndpoint(VariantSplit Split, ExperimentSpec? Experiment);

/// <summary>
/// An endpoint as stored in the registry and sent to the management API:
/// <c>{"variants": [{"name": "a", "model": "fraud", "version": "production", "weight": 90}, ...],
/// "experiment": {"metric": "binary", "minimum_samples": 1000, "alpha": 0.05}}</c> (the experiment is optional).
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
        return new ServingEndpoint(split, body.Experiment is { } experiment ? ExperimentSpec.Check(experiment, split) : null);
    }

    /// <summary>The stored form of a split.</summary>
    public static string ToJson(ServingEndpoint endpoint) =>
        JsonSerializer.Serialize(
            new Body(endpoint.Split.Variants.Select(v => new VariantBody(v.Name, v.Model, v.Version, v.Weight)).ToArray(), endpoint.Experiment), s_json);

    private sealed record Body(VariantBody?[]? Variants, ExperimentSpec? Experiment);

    private sealed record VariantBody(string? Name, string? Model, string? Version, double Weight);
}
