namespace Quiver.Core.Security;

/// <summary>
/// Who is calling, once authenticated: a name for the audit log, the tenant it is scoped to (null: every tenant) and
/// its roles. <paramref name="Method"/> says how it was proven: <c>api-key</c>, <c>jwt</c>, <c>mtls</c> or
/// <c>anonymous</c> (authentication off).
/// </summary>
public sealed record Principal(string Name, string? Tenant, IReadOnlySet<Role> Roles, string Method)
{
    /// <summary>The caller when no authentication is configured (loopback only): every role, every tenant.</summary>
    public static Principal Anonymous { get; } =
        new("anonymous", null, new HashSet<Role> { Role.Viewer, Role.Predictor, Role.Deployer, Role.Admin }, "anonymous");

    /// <summary>True when this principal holds <paramref name="role"/> (admins hold every role).</summary>
    public bool Has(Role role) => Roles.Contains(role) || Roles.Contains(Role.Admin);

    /// <summary>True when this principal may see resources owned by <paramref name="ownerTenant"/> (null: shared by all).</summary>
    public bool CanSee(string? ownerTenant) => Tenant is null || ownerTenant is null || Tenant == ownerTenant;
}
