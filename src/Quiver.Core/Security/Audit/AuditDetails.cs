using System.Text.Encodings.Web;
using System.Text.Json;

namespace Quiver.Core.Security.Audit;

/// <summary>
/// The details of an audit event as one JSON object with sorted keys, so every writer (endpoints, the rollout
/// controller, the CLI) produces the same shape. Quotes and apostrophes stay readable: the text is never markup.
/// </summary>
public static class AuditDetails
{
    private static readonly JsonSerializerOptions s_options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The pairs as a JSON object; null values are left out; null when nothing is left.</summary>
    public static string? ToJson(IEnumerable<KeyValuePair<string, object?>> details)
    {
        var sorted = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach ((string name, object? value) in details)
        {
            if (value is not null)
            {
                sorted[name] = value;
            }
        }

        return sorted.Count == 0 ? null : JsonSerializer.Serialize(sorted, s_options);
    }
}
