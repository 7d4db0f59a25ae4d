using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>What a caller needs to reach one endpoint or RPC: nothing, a health probe's pass, or a role.</summary>
public sealed record Access
{
    private Access(Role? role, bool probe)
    {
        Role = role;
        IsProbe = probe;
    }

    /// <summary>The role required; null when no credentials are needed.</summary>
    public Role? Role { get; }

    /// <summary>A health endpoint: open when <see cref="QuiverServerOptions.OpenHealth"/> is on, otherwise <see cref="Role.Viewer"/>.</summary>
    public bool IsProbe { get; }

    /// <summary>No credentials needed: only for routes that reveal nothing, such as the 404 of an unknown path.</summary>
    public static Access Anyone { get; } = new(null, probe: false);

    /// <summary>A liveness or readiness probe.</summary>
    public static Access Probe { get; } = new(Core.Security.Role.Viewer, probe: true);

    public static Access Viewer { get; } = new(Core.Security.Role.Viewer, probe: false);

    public static Access Predictor { get; } = new(Core.Security.Role.Predictor, probe: false);

    public static Access Deployer { get; } = new(Core.Security.Role.Deployer, probe: false);

    public static Access Admin { get; } = new(Core.Security.Role.Admin, probe: false);

    /// <summary>The role needed given the server's health setting; null when the caller needs no credentials.</summary>
    public Role? Required(bool openHealth) => IsProbe && openHealth ? null : Role;
}
