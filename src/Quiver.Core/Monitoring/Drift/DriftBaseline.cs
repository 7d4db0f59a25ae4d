using System.Text.Json;
using Quiver.Core.Tensors;

namespace Quiver.Core.Monitoring.Drift;

/// <summary>
/// An uploaded drift baseline: samples of each feature as the model saw them in training,
/// <c>{"features": {"input[0]": [0.1, 0.3, ...], ...}}</c>. Kept in the registry per version, so it survives reloads
/// and restarts and every replica loading the version uses it.
/// </summary>
public static class DriftBaseline
{
    /// <summary>
    /// Reads and checks a baseline against the model's features; <see cref="InferenceException"/> (400) says what is wrong.
    /// Columns of <paramref name="sensitive"/> inputs are refused: drift watching leaves them out so their values are never held or stored.
    /// </summary>
    public static Dictionary<string, double[]> Parse(ReadOnlyMemory<byte> json, IReadOnlyList<string> known, IReadOnlyList<string>? sensitive = null)
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
            if (sensitive?.Any(input => feature.Name.StartsWith(input + "[", StringComparison.Ordinal)) == true)
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

    /// <summary>
    /// A baseline stored in the registry, kept to the features the model watches now: a column whose input has since been
    /// marked sensitive (or has gone) is dropped, not held, and does not stop the version from loading.
    /// </summary>
    public static Dictionary<string, double[]> ParseStored(string json, IReadOnlyList<string> known)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        var baseline = new Dictionary<string, double[]>(StringComparer.Ordinal);
        if (document.RootElement.TryGetProperty("features", out JsonElement features) && features.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty feature in features.EnumerateObject())
            {
                if (known.Contains(feature.Name) && feature.Value.ValueKind == JsonValueKind.Array)
                {
                    baseline[feature.Name] = [.. feature.Value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.Number).Select(v => v.GetDouble())];
                }
            }
        }

        return baseline;
    }
}
