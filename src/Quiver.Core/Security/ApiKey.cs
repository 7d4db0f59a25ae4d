namespace Quiver.Core.Security;

/// <summary>
/// An API key as the registry keeps it: never the secret, only its SHA-256 (<see cref="SecretSha256"/>, hex). The
/// <see cref="Id"/> is embedded in the key itself (<c>qk_&lt;id&gt;_&lt;secret&gt;</c>) so a presented key is looked up
/// by id, then its secret compared in constant time.
/// </summary>
public sealed record ApiKey
{
    /// <summary>The key's public id: 16 lowercase hex digits, also shown by <c>quiver keys list</c>.</summary>
    public required string Id { get; init; }

    /// <summary>A human name for the audit log (who or what holds the key).</summary>
    public required string Name { get; init; }

    /// <summary>The tenant the key is scoped to; null for every tenant.</summary>
    public string? Tenant { get; init; }

    /// <summary>The roles the key grants.</summary>
    public required IReadOnlySet<Role> Roles { get; init; }

    /// <summary>SHA-256 of the secret part, as 64 lowercase hex digits.</summary>
    public required string SecretSha256 { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the key stops working; null for never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>When the key was revoked; null while it is not.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>The principal a request presenting this key acts as.</summary>
    public Principal ToPrincipal() => new(Name, Tenant, Roles, ApiKeyAuthenticator.Method);
}
