using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// Turns an <c>Authorization: Bearer</c> JWT into a <see cref="Principal"/> (method <c>jwt</c>): signature against the
/// identity provider's JWKS (asymmetric algorithms only), issuer, audience, expiry and not-before with the configured
/// clock skew, then the name, tenant and role claims mapped by <see cref="JwtOptions"/>. Every refusal is an
/// <see cref="AuthenticationFailedException"/> saying what was wrong, never echoing the token.
/// </summary>
public sealed partial class JwtAuthenticator : IDisposable
{
    /// <summary>The <see cref="Principal.Method"/> of principals made here.</summary>
    public const string Method = "jwt";

    // Asymmetric only: with an HMAC algorithm the "secret" would be the published public key, so anyone could sign.
    private static readonly string[] AcceptedAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    private static readonly IReadOnlyDictionary<string, Role> DefaultRoleMap = new Dictionary<string, Role>(StringComparer.OrdinalIgnoreCase)
    {
        ["admin"] = Role.Admin, ["deployer"] = Role.Deployer, ["predictor"] = Role.Predictor, ["viewer"] = Role.Viewer,
    };

    private readonly JwtOptions _options;
    private readonly JwksKeyCache _keys;
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;
    private readonly IReadOnlyDictionary<string, Role> _roleMap;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;

    /// <summary>
    /// Validates with <paramref name="options"/> (already checked by <see cref="JwtOptions.Validate"/>); expiry is judged
    /// by <paramref name="clock"/>. <paramref name="jwksHandler"/> replaces the HTTP handler that fetches a JWKS URL.
    /// </summary>
    public JwtAuthenticator(JwtOptions options, TimeProvider clock, ILogger logger, HttpMessageHandler? jwksHandler = null)
    {
        _options = options;
        _logger = logger;
        _clock = clock;
        _keys = new JwksKeyCache(options, clock, logger, jwksHandler);
        _roleMap = options.RoleMap is null
            ? DefaultRoleMap
            : options.RoleMap.ToDictionary(entry => entry.Key, entry => ConfiguredRole.TryParse(entry.Value, out Role role)
                ? role
                : throw new ArgumentException($"role map entry '{entry.Key}={entry.Value}' names no role ({ConfiguredRole.All})."), StringComparer.Ordinal);
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = options.Issuer,
            ValidAudience = options.Audience,
            ValidAlgorithms = AcceptedAlgorithms,
            // Expiry and not-before are checked in CheckLifetime against the injected clock, which the handler cannot take.
            ValidateLifetime = false,
            RequireSignedTokens = true,
            RequireAudience = true,
            // The JWKS is the trust anchor; x5c certificates inside it are not judged separately.
            ValidateIssuerSigningKey = false,
            NameClaimType = options.NameClaim,
            RoleClaimType = options.RoleClaim,
        };
    }

    /// <summary>
    /// Reads the JWKS now (at server start, so a bad file or URL shows at once). Returns the error, or null; the server
    /// starts anyway for a URL (the keys are fetched again on the first token) but not for a file.
    /// </summary>
    public Task<string?> LoadKeysAsync(CancellationToken cancellationToken = default) => _keys.RefreshAsync(force: true, cancellationToken);

    /// <summary>How many times the JWKS has been read; tests use it to see the refresh rate limit.</summary>
    internal int JwksReads => _keys.Reads;

    /// <summary>Validates <paramref name="token"/> (the part after <c>Bearer </c>) and returns who it names.</summary>
    public async Task<Principal> AuthenticateAsync(string token, CancellationToken cancellationToken)
    {
        try
        {
            return await ValidateAsync(token, cancellationToken);
        }
        catch (AuthenticationFailedException e)
        {
            Log.Refused(_logger, e.Message);
            throw;
        }
    }

    private async Task<Principal> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            throw Fail("no bearer token: send 'Authorization: Bearer <JWT>' with a token from your identity provider.");
        }

        JsonWebToken jwt = Read(token.Trim());
        IReadOnlyList<SecurityKey> keys = await _keys.FindAsync(string.IsNullOrEmpty(jwt.Kid) ? null : jwt.Kid, cancellationToken);

        TokenValidationParameters parameters = _parameters.Clone();
        parameters.IssuerSigningKeys = keys;
        TokenValidationResult result = await _handler.ValidateTokenAsync(jwt, parameters);
        if (!result.IsValid)
        {
            throw Fail(Describe(result.Exception, jwt));
        }

        CheckLifetime(jwt);
        return ToPrincipal(jwt);
    }

    // The checks the handler would also make, done first so each refusal says exactly why.
    private JsonWebToken Read(string token)
    {
        const string expected = "expected a JWS in compact form: three base64url parts (header.payload.signature) separated by dots.";
        int dots = token.AsSpan().Count('.');
        if (dots != 2)
        {
            throw Fail(dots == 4
                ? "the bearer token is encrypted (JWE); Quiver accepts signed tokens (JWS) only."
                : "the bearer token is not a JWT: " + expected);
        }

        JsonWebToken jwt;
        try
        {
            jwt = _handler.ReadJsonWebToken(token);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenMalformedException)
        {
            throw Fail("the bearer token is malformed (its header or payload is not base64url-encoded JSON): " + expected);
        }

        string alg = jwt.Alg ?? "";
        if (alg.Length == 0 || alg.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            throw Fail($"the token is unsigned (alg: none); only tokens signed with {string.Join(", ", AcceptedAlgorithms)} are accepted.");
        }

        if (jwt.EncodedSignature.Length == 0)
        {
            throw Fail($"the token names {CallerText.Shown(alg)} but carries no signature (its third part is empty).");
        }

        if (!AcceptedAlgorithms.Contains(alg, StringComparer.Ordinal))
        {
            throw Fail(alg.StartsWith("HS", StringComparison.OrdinalIgnoreCase)
                ? $"the token is signed with {CallerText.Shown(alg)}, a shared-secret (HMAC) algorithm; only asymmetric algorithms are accepted ({string.Join(", ", AcceptedAlgorithms)})."
                : $"the token's algorithm '{CallerText.Shown(alg)}' is not accepted; use one of {string.Join(", ", AcceptedAlgorithms)}.");
        }

        return jwt;
    }

    private string Describe(Exception? error, JsonWebToken jwt) => error switch
    {
        SecurityTokenInvalidIssuerException =>
            $"the token's issuer '{CallerText.Shown(jwt.Issuer)}' is not trusted here; this server accepts tokens issued by '{_options.Issuer}'.",
        SecurityTokenInvalidAudienceException =>
            $"the token is for audience '{CallerText.Shown(string.Join(", ", jwt.Audiences))}', not for this server ('{_options.Audience}'); request a token for '{_options.Audience}'.",
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException =>
            $"the token's signature does not verify with the identity provider's key{(string.IsNullOrEmpty(jwt.Kid) ? "s" : $" '{CallerText.Shown(jwt.Kid)}'")}: it was altered or signed by someone else.",
        SecurityTokenInvalidAlgorithmException => $"the token's algorithm '{CallerText.Shown(jwt.Alg)}' is not accepted; use one of {string.Join(", ", AcceptedAlgorithms)}.",
        _ => "the token is not valid" + (error is null ? "." : $" ({error.GetType().Name.Replace("SecurityToken", "").Replace("Exception", "")})."),
    };

    // exp is required (a token that never expires cannot be revoked by waiting); nbf is optional. Both get the skew.
    private void CheckLifetime(JsonWebToken jwt)
    {
        if (!jwt.TryGetClaim(JwtRegisteredClaimNames.Exp, out _))
        {
            throw Fail("the token has no expiry ('exp' claim); Quiver accepts only tokens that expire.");
        }

        DateTime now = _clock.GetUtcNow().UtcDateTime;
        bool hasNotBefore = jwt.TryGetClaim(JwtRegisteredClaimNames.Nbf, out _);
        if (hasNotBefore && jwt.ValidFrom > jwt.ValidTo)
        {
            throw Fail($"the token's lifetime is invalid: it is valid from {Format(jwt.ValidFrom)}, after its expiry at {Format(jwt.ValidTo)}.");
        }

        if (now > jwt.ValidTo + _options.ClockSkew)
        {
            throw Fail($"the token expired at {Format(jwt.ValidTo)} (clock skew allowed: {_options.ClockSkew.TotalSeconds:F0} s); get a new one from your identity provider.");
        }

        if (hasNotBefore && now + _options.ClockSkew < jwt.ValidFrom)
        {
            throw Fail($"the token is not valid before {Format(jwt.ValidFrom)} (clock skew allowed: {_options.ClockSkew.TotalSeconds:F0} s); check the clocks of the identity provider and this server.");
        }
    }

    private Principal ToPrincipal(JsonWebToken jwt)
    {
        string? name = Claim(jwt, _options.NameClaim);
        if (string.IsNullOrEmpty(name))
        {
            throw Fail($"the token has no '{_options.NameClaim}' claim naming the caller.");
        }

        string? tenant = null;
        if (_options.TenantClaim is { } tenantClaim)
        {
            tenant = Claim(jwt, tenantClaim);
            if (string.IsNullOrEmpty(tenant))
            {
                throw Fail($"the token has no '{tenantClaim}' claim: this server scopes every caller to a tenant; ask your identity provider's administrator to add it.");
            }
        }

        var roles = new HashSet<Role>();
        foreach (System.Security.Claims.Claim claim in jwt.Claims)
        {
            if (claim.Type != _options.RoleClaim)
            {
                continue;
            }

            // An array claim arrives as one claim per element; a scope-style claim is one space-separated string.
            foreach (string value in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (_roleMap.TryGetValue(value, out Role role))
                {
                    roles.Add(role);
                }
            }
        }

        return new Principal(name, tenant, roles, Method);
    }

    private static string? Claim(JsonWebToken jwt, string type) =>
        jwt.TryGetClaim(type, out System.Security.Claims.Claim? claim) ? claim.Value : null;

    private static string Format(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static AuthenticationFailedException Fail(string message) => new(message);

    public void Dispose() => _keys.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 623, Level = LogLevel.Information, Message = "JWT refused: {Reason}")]
        public static partial void Refused(ILogger logger, string reason);
    }
}
