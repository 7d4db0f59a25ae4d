namespace Quiver.Cli.Admin;

/// <summary>Where the server is: <c>--server</c>, else the <c>QUIVER_SERVER</c> environment variable, else localhost:8000.</summary>
public static class ServerAddress
{
    /// <summary>The address used when neither --server nor QUIVER_SERVER is given: Triton's HTTP port.</summary>
    public const string Default = "http://localhost:8000";

    /// <summary>The environment variable scripts set instead of passing --server to every command.</summary>
    public const string EnvironmentVariable = "QUIVER_SERVER";

    /// <summary>The address from the environment, or <see cref="Default"/>.</summary>
    public static string FromEnvironment() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } value ? value : Default;

    /// <summary>
    /// An absolute http(s) base address ending in '/', so a path prefix (a server behind a reverse proxy at
    /// https://host/quiver) is kept when the API's relative paths are appended.
    /// </summary>
    public static Uri Parse(string text)
    {
        string trimmed = text.Trim();
        if (!Uri.TryCreate(trimmed.EndsWith('/') ? trimmed : trimmed + "/", UriKind.Absolute, out Uri? uri) ||
            uri.Scheme is not ("http" or "https") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new UsageException($"--server '{text}' is not an http:// or https:// address such as {Default}.");
        }

        return uri;
    }
}
