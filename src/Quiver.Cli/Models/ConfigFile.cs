using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary>Reads <c>push --config FILE.json</c>: the model's config, checked here so a typo fails before the upload.</summary>
public static class ConfigFile
{
    private static readonly JsonDocumentOptions s_lenient = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    // The default encoder writes '&', '<', '+' and every non-ASCII letter as \uXXXX, for HTML pages; a query
    // string has no such hazard, and the escapes would only make it longer.
    private static readonly JsonSerializerOptions s_compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The config as compact JSON text. Compact because it travels in the query string, where every newline and
    /// space of an indented file costs three bytes (%0A, %20) against the server's request-line limit (8 KB in Kestrel).
    /// </summary>
    public static string Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new UsageException($"--config '{path}' does not exist.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--config '{path}' cannot be read: {e.Message}");
        }

        JsonNode? config;
        try
        {
            config = JsonNode.Parse(text, documentOptions: s_lenient);
        }
        catch (JsonException e)
        {
            throw new UsageException($"--config '{path}' is not valid JSON: {e.Message}");
        }

        return config is JsonObject
            ? config.ToJsonString(s_compact)
            : throw new UsageException($"--config '{path}' must hold a JSON object, like a model repository's config.json.");
    }
}
