using System.Text.Json;

namespace Quiver.Cli.Admin;

/// <summary>The admin API's serializer settings: snake_case, as the server writes it.</summary>
public static class AdminJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };
}

/// <summary>The body of every error answer.</summary>
public sealed record ErrorRecord
{
    public string? Error { get; init; }
}
