using System.Net.Http.Headers;

namespace Quiver.Cli.Admin;

/// <summary>The API key the CLI's clients present to a server with authentication on.</summary>
public static class ApiKeys
{
    /// <summary>Where the key is read from when no <c>--api-key</c> is given (keeps it out of shell history).</summary>
    public const string EnvironmentVariable = "QUIVER_API_KEY";

    /// <summary>The key from <see cref="EnvironmentVariable"/>, or null.</summary>
    public static string? FromEnvironment() => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } key ? key : null;

    /// <summary>Sends <paramref name="apiKey"/> as <c>Authorization: Bearer</c> on every request of <paramref name="http"/>.</summary>
    public static void Apply(HttpClient http, string? apiKey)
    {
        if (!string.IsNullOrWhiteSpace(apiKey))
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey.Trim());
        }
    }
}
