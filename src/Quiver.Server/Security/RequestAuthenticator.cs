using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// Finds the credentials of a request and proves them: an API key (<c>X-API-Key</c>, or a Bearer token starting with
/// <c>qk_</c>), a JWT (any other Bearer token) or a client certificate (mTLS). The JWT and certificate authenticators
/// are optional (see QuiverServer.CreateAuthenticator); unset, such credentials are refused with a message saying so.
/// </summary>
public sealed class RequestAuthenticator(
    ApiKeyAuthenticator apiKeys,
    Func<string, CancellationToken, Task<Principal>>? jwt = null,
    Func<X509Certificate2, Principal>? clientCertificate = null)
{
    /// <summary>The header carrying an API key, for clients that cannot set Authorization.</summary>
    public const string ApiKeyHeader = "X-API-Key";

    /// <summary>
    /// The principal the request's credentials prove, or null when it presents none. Throws
    /// <see cref="AuthenticationFailedException"/> for credentials that are present but not good.
    /// </summary>
    public async Task<Principal?> AuthenticateAsync(HttpContext context)
    {
        string authorization = context.Request.Headers.Authorization.ToString();
        string apiKeyHeader = context.Request.Headers[ApiKeyHeader].ToString();
        if (authorization.Length > 0 && apiKeyHeader.Length > 0)
        {
            throw new AuthenticationFailedException($"the request carries both Authorization and {ApiKeyHeader}; send one credential.");
        }

        if (apiKeyHeader.Length > 0)
        {
            return await apiKeys.AuthenticateAsync(apiKeyHeader.Trim(), context.RequestAborted);
        }

        if (authorization.Length > 0)
        {
            return await BearerAsync(authorization, context.RequestAborted);
        }

        if (clientCertificate is not null && context.Connection.ClientCertificate is { } certificate)
        {
            return clientCertificate(certificate);
        }

        return null;
    }

    private async Task<Principal> BearerAsync(string authorization, CancellationToken cancellationToken)
    {
        int space = authorization.IndexOf(' ', StringComparison.Ordinal);
        string scheme = space < 0 ? authorization : authorization[..space];
        string token = space < 0 ? "" : authorization[(space + 1)..].Trim();
        if (!scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            throw new AuthenticationFailedException(
                $"the Authorization scheme '{Truncate(scheme)}' is not supported; send 'Authorization: Bearer <API key or JWT>' or {ApiKeyHeader}.");
        }

        if (token.Length == 0)
        {
            throw new AuthenticationFailedException("the Authorization header has the Bearer scheme but no token after it.");
        }

        if (token.StartsWith(ApiKeySecret.Prefix, StringComparison.Ordinal))
        {
            return await apiKeys.AuthenticateAsync(token, cancellationToken);
        }

        return jwt is null
            ? throw new AuthenticationFailedException(
                $"the Bearer token is not a Quiver API key ({ApiKeySecret.Prefix}...), and JWT authentication is not configured on this server.")
            : await jwt(token, cancellationToken);
    }

    // A scheme is echoed to help the caller, but never more than a few characters: it could be a pasted secret.
    private static string Truncate(string scheme) => scheme.Length <= 12 ? scheme : scheme[..12] + "…";
}
