using System.CommandLine;

namespace Quiver.Cli.Admin;

/// <summary>The options every admin command (<c>quiver models</c>, <c>rollout</c>, <c>experiment</c>, <c>endpoint</c>) takes: where the server is, and JSON for scripts.</summary>
public sealed class AdminOptions
{
    /// <summary><c>--server URL</c>; defaults to QUIVER_SERVER, else http://localhost:8000.</summary>
    public Option<string> Server { get; } = new("--server")
    {
        Description = $"Base address of the Quiver server (HTTP port). Defaults to ${ServerAddress.EnvironmentVariable}, else {ServerAddress.Default}.",
        DefaultValueFactory = _ => ServerAddress.FromEnvironment(),
        HelpName = "URL",
        Recursive = true,
    };

    /// <summary><c>--api-key KEY</c>; defaults to QUIVER_API_KEY. Sent as <c>Authorization: Bearer</c> to a server with authentication on.</summary>
    public Option<string?> ApiKey { get; } = new("--api-key")
    {
        Description = $"API key for a server with authentication on (see quiver keys create). Defaults to ${ApiKeys.EnvironmentVariable}.",
        DefaultValueFactory = _ => ApiKeys.FromEnvironment(),
        HelpName = "KEY",
        Recursive = true,
    };

    /// <summary><c>--json</c>: print the server's JSON answer as is.</summary>
    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print the server's JSON answer as is, for scripts, instead of tables.",
        Recursive = true,
    };
}
