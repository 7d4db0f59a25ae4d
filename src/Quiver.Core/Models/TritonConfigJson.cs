using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Quiver.Core.Models;

/// <summary>
/// Triton's JSON form of a model configuration (what its repository extension's load "config" parameter
/// carries), rewritten as protobuf text so <see cref="TritonModelConfig"/> reads both forms one way.
/// </summary>
internal static class TritonConfigJson
{
    // Protobuf maps in the model configuration; in JSON they are plain objects, in text format key/value entries.
    private static readonly HashSet<string> s_maps = ["parameters", "metric_tags", "cc_model_filenames"];

    // Enum fields are bare words in text format; in JSON they are strings.
    private static readonly HashSet<string> s_enums = ["data_type", "kind", "format"];

    public static string ToTextProto(string json)
    {
        JsonElement root;
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"the model configuration is not valid JSON: {e.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ModelConfigException("the model configuration must be a JSON object.");
        }

        var text = new StringBuilder();
        WriteFields(text, root);
        return text.ToString();
    }

    private static void WriteFields(StringBuilder text, JsonElement message)
    {
        foreach (JsonProperty property in message.EnumerateObject())
        {
            if (s_maps.Contains(property.Name) && property.Value.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty entry in property.Value.EnumerateObject())
                {
                    text.Append(property.Name).Append(" { key: ").Append(Quote(entry.Name)).Append(" value");
                    WriteValue(text, "value", entry.Value);
                    text.Append(" }\n");
                }

                continue;
            }

            WriteField(text, property.Name, property.Value);
        }
    }

    private static void WriteField(StringBuilder text, string name, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in value.EnumerateArray())
            {
                WriteField(text, name, item);
            }

            return;
        }

        if (value.ValueKind != JsonValueKind.Null)
        {
            text.Append(name);
            WriteValue(text, name, value);
            text.Append('\n');
        }
    }

    private static void WriteValue(StringBuilder text, string name, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                text.Append(" {\n");
                WriteFields(text, value);
                text.Append('}');
                break;
            case JsonValueKind.String:
                text.Append(": ").Append(Scalar(name, value.GetString()!));
                break;
            case JsonValueKind.True or JsonValueKind.False:
                text.Append(": ").Append(value.ValueKind == JsonValueKind.True ? "true" : "false");
                break;
            default:
                text.Append(": ").Append(value.GetRawText());
                break;
        }
    }

    // Protobuf's JSON writes 64-bit integers (dims, versions) as strings; text format wants them bare.
    private static string Scalar(string field, string value)
    {
        bool enumValue = s_enums.Contains(field) && value.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
        bool integer = field is "dims" or "shape" or "versions" or "max_queue_delay_microseconds"
            && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _);
        return enumValue || integer ? value : Quote(value);
    }

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
}
