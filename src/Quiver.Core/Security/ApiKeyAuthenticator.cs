using System.Globalization;
using Quiver.Core.Registry;

namespace Quiver.Core.Security;

/// <summary>
/// Turns a presented API key into a <see cref="Principal"/>, reading the registry on every call (no cache), so a key
/// revoked by <c>quiver keys revoke</c> stops working on every replica sharing the registry at the next request.
/// </summary>
public sealed class ApiKeyAuthenticator(IModelRegistry registry, TimeProvider clock)
{
    /// <summary>The <see cref="Principal.Method"/> of principals proven by an API key.</summary>
    public const string Method = "api-key";

    /// <summary>
    /// The principal of a valid key. Throws <see cref="AuthenticationFailedException"/> for a malformed, unknown,
    /// revoked or expired key; the message names the key's id at most, never its secret.
    /// </summary>
    public async Task<Principal> AuthenticateAsync(string presented, CancellationToken cancellationToken = default)
    {
        if (!ApiKeySecret.TryParse(presented, out string? id, out string? secret))
        {
            throw new AuthenticationFailedException(
                $"the API key is malformed: Quiver keys look like {ApiKeySecret.Prefix}<16 hex digits>_<43 characters>, as 'quiver keys create' prints them.");
        }

        ApiKey? key = await registry.GetApiKeyAsync(id, cancellationToken);

        // The hash is compared even for a known id so a wrong secret and an unknown id read the same to the caller.
        if (key is null || !ApiKeySecret.Matches(secret, key.SecretSha256))
        {
            throw new AuthenticationFailedException($"unknown API key {id}: no key with this id and secret exists.");
        }

        if (key.RevokedAt is { } revoked)
        {
            throw new AuthenticationFailedException($"API key {id} ('{key.Name}') was revoked at {Format(revoked)}.");
        }

        if (key.ExpiresAt is { } expires && expires <= clock.GetUtcNow())
        {
            throw new AuthenticationFailedException($"API key {id} ('{key.Name}') expired at {Format(expires)}; create a new one with 'quiver keys create'.");
        }

        return key.ToPrincipal();
    }

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
