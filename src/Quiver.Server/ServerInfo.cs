using System.Reflection;

namespace Quiver.Server;

/// <summary>What the server reports about itself.</summary>
public static class ServerInfo
{
    /// <summary>The server version, from the assembly's informational version.</summary>
    public static string Version { get; } =
        typeof(ServerInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";
}
