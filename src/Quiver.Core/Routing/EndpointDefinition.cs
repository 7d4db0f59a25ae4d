using System.Text.Json;
using System.Text.Json.Serialization;

namespace Quiver.Core.Routing;

/// <summary>
/// An endpoint as stored in the registry and sent to the management API:
/// <c>{"variants": [{"name": "a", "model": "fraud", "version": "production", "weight": 90}, ...]}</c>.
/// </summary>
public static class EndpointDefinition
{
    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Reads and checks a definition; throws <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static VariantSplit Parse(string endpoint, string json)
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

        return VariantSplit.Create(endpoint, variants.Select(v => new Variant(v!.Name!, v.Model!, v.Version ?? "", v.Weight)).ToArray());
    }

    /// <summary>The stored form of a split.</summary>
    public static string ToJson(VariantSplit split) =>
        JsonSerializer.Serialize(new Body(split.Variants.Select(v => new VariantBody(v.Name, v.Model, v.Version, v.Weight)).ToArray()), s_json);

    private sealed record Body(VariantBody?[]? Variants);

    private sealed record VariantBody(string? Name, string? Model, string? Version, double Weight);
}
