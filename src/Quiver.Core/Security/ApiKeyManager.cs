using System.Globalization;
using Quiver.Core.Registry;

namespace Quiver.Core.Security;

/// <summary>A key just created: its stored record and the full key text, which exists nowhere else and is shown once.</summary>
public sealed record CreatedApiKey(ApiKey Record, string Key);

/// <summary>Creates, lists and revokes API keys in the registry (what <c>quiver keys create|list|revoke</c> runs).</summary>
public sealed class ApiKeyManager(IModelRegistry registry, TimeProvider clock)
{
    /// <summary>Creates a key; throws <see cref="ArgumentException"/> for an empty name, no role or an expiry in the past.</summary>
    public async Task<CreatedApiKey> CreateAsync(string name, IEnumerable<Role> roles, string? tenant, DateTimeOffset? expiresAt,
        CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("a key needs a --name saying who or what holds it (it appears in the audit log).");
        }

        var granted = roles.ToHashSet();
        if (granted.Count == 0)
        {
            throw new ArgumentException($"a key needs at least one --role ({RoleNames.Known}).");
        }

        if (tenant is not null)
        {
            TenantNames.Require(tenant);
        }

        DateTimeOffset now = Truncate(clock.GetUtcNow());
        if (expiresAt is { } expires && expires <= now)
        {
            throw new ArgumentException($"the expiry {expires:O} is not in the future.");
        }

        (string id, string secret, string key) = ApiKeySecret.Generate();
        var record = new ApiKey
        {
            Id = id,
            Name = name.Trim(),
            Tenant = tenant,
            Roles = granted,
            SecretSha256 = ApiKeySecret.Hash(secret),
            CreatedAt = now,
            ExpiresAt = expiresAt is { } e ? Truncate(e) : null,
        };
        await registry.AddApiKeyAsync(record, cancellationToken);
        return new CreatedApiKey(record, key);
    }

    /// <summary>Every key, oldest first, revoked and expired ones included.</summary>
    public Task<IReadOnlyList<ApiKey>> ListAsync(CancellationToken cancellationToken = default) => registry.GetApiKeysAsync(cancellationToken);

    /// <summary>Revokes a key now (a key revoked before keeps its first revocation time); NotFound for an unknown id.</summary>
    public Task<ApiKey> RevokeAsync(string id, CancellationToken cancellationToken = default) =>
        registry.RevokeApiKeyAsync(id.Trim(), Truncate(clock.GetUtcNow()), cancellationToken);

    /// <summary>
    /// Reads an expiry: a duration from now (<c>30d</c>, <c>12h</c>, <c>90m</c>) or a UTC date or date-time
    /// (<c>2027-01-01</c>, <c>2027-01-01T12:00:00Z</c>). Throws <see cref="FormatException"/> saying what is expected.
    /// </summary>
    public static DateTimeOffset ParseExpiry(string text, DateTimeOffset now)
    {
        string value = text.Trim();
        if (value.Length >= 2 && long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long amount)
            && amount > 0)
        {
            TimeSpan? duration = value[^1] switch
            {
                'd' => TimeSpan.FromDays(amount),
                'h' => TimeSpan.FromHours(amount),
                'm' => TimeSpan.FromMinutes(amount),
                _ => null,
            };
            if (duration is { } d)
            {
                return now + d;
            }
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset at))
        {
            return at;
        }

        throw new FormatException($"--expires '{text}' is neither a duration (30d, 12h, 90m) nor a date (2027-01-01 or 2027-01-01T12:00:00Z).");
    }

    // Whole seconds: what every registry stores exactly, so a record reads back equal to what was returned.
    private static DateTimeOffset Truncate(DateTimeOffset time) =>
        new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}
