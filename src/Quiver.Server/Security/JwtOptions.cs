using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// How bearer JWTs are validated: the signing keys (a JWKS file or URL), the issuer and audience this server trusts,
/// and which claims name the caller, its tenant and its roles. Bound from the <c>--jwt-*</c> flags of <c>quiver serve</c>.
/// </summary>
public sealed record JwtOptions
{
    /// <summary>The JSON Web Key Set: a file path, or an https URL (http only on loopback, e.g. a sidecar).</summary>
    public string? Jwks { get; init; }

    /// <summary>The exact <c>iss</c> a token must carry (the identity provider's issuer URL).</summary>
    public string? Issuer { get; init; }

    /// <summary>The <c>aud</c> a token must be for (this server's client id or resource URL).</summary>
    public string? Audience { get; init; }

    /// <summary>The claim that names the caller in the audit log. Defaults to <c>sub</c>.</summary>
    public string NameClaim { get; init; } = "sub";

    /// <summary>The claim holding the caller's roles (an array, or a space-separated string). Defaults to <c>roles</c>.</summary>
    public string RoleClaim { get; init; } = "roles";

    /// <summary>
    /// The claim holding the caller's tenant; a token without it is refused. Null (the default) for a single-tenant
    /// server: every JWT principal then sees every tenant.
    /// </summary>
    public string? TenantClaim { get; init; }

    /// <summary>
    /// Role-claim values to Quiver roles (<c>admin|deployer|predictor|viewer</c>), e.g. <c>ml-platform-admins → admin</c>.
    /// Null (the default) maps the values <c>admin</c>, <c>deployer</c>, <c>predictor</c> and <c>viewer</c> to themselves;
    /// when given, only its entries count.
    /// </summary>
    public IReadOnlyDictionary<string, string>? RoleMap { get; init; }

    /// <summary>Tolerance for clocks that differ between the identity provider and this server. Defaults to 60 s.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The shortest time between two JWKS refreshes caused by an unknown <c>kid</c>, so a flood of forged kids cannot
    /// hammer the identity provider. Defaults to 30 s.
    /// </summary>
    public TimeSpan JwksMinimumRefreshInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Keys older than this are refreshed at the next token, so a key removed from the JWKS stops working. Defaults to 1 h.</summary>
    public TimeSpan JwksMaximumAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>True when <see cref="Jwks"/> is a URL rather than a file.</summary>
    public bool JwksIsUrl => Jwks is not null && (Jwks.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ||
        Jwks.StartsWith("http://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Adds every problem with these options to <paramref name="errors"/>.</summary>
    public void Validate(List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(Jwks))
        {
            errors.Add("--jwt-jwks is required for JWT authentication: a JWKS file, or the identity provider's https jwks_uri.");
        }
        else if (JwksIsUrl)
        {
            if (!Uri.TryCreate(Jwks, UriKind.Absolute, out Uri? url))
            {
                errors.Add($"--jwt-jwks '{Jwks}' is not a valid URL.");
            }
            else if (url.Scheme == Uri.UriSchemeHttp && !url.IsLoopback)
            {
                errors.Add($"--jwt-jwks {Jwks}: signing keys must come over https (plain http only from a loopback address), " +
                    "or anyone on the path could replace them.");
            }
        }
        else if (!File.Exists(Jwks))
        {
            errors.Add($"--jwt-jwks file '{Jwks}' does not exist (give a JWKS file or an https URL).");
        }

        if (string.IsNullOrWhiteSpace(Issuer))
        {
            errors.Add("--jwt-issuer is required for JWT authentication: the exact 'iss' of your identity provider's tokens.");
        }

        if (string.IsNullOrWhiteSpace(Audience))
        {
            errors.Add("--jwt-audience is required for JWT authentication: the 'aud' your identity provider puts in tokens for Quiver.");
        }

        if (string.IsNullOrWhiteSpace(NameClaim) || string.IsNullOrWhiteSpace(RoleClaim) || TenantClaim is { Length: 0 })
        {
            errors.Add("--jwt-name-claim, --jwt-role-claim and --jwt-tenant-claim must not be empty.");
        }

        if (ClockSkew < TimeSpan.Zero || ClockSkew > TimeSpan.FromMinutes(10))
        {
            errors.Add($"--jwt-clock-skew must be between 0 and 600 seconds, got {ClockSkew.TotalSeconds}.");
        }

        if (JwksMinimumRefreshInterval <= TimeSpan.Zero || JwksMaximumAge < JwksMinimumRefreshInterval)
        {
            errors.Add("the JWKS refresh interval must be positive and not longer than the JWKS maximum age.");
        }

        foreach ((string value, string role) in RoleMap ?? new Dictionary<string, string>())
        {
            if (value.Length == 0 || !ConfiguredRole.TryParse(role, out _))
            {
                errors.Add($"--jwt-role-map '{value}={role}': expected CLAIM-VALUE=ROLE with ROLE one of {ConfiguredRole.All}.");
            }
        }
    }
}

/// <summary>
/// The lowercase names of <see cref="Role"/> in the JWT role map and the mTLS principals file. Internal on purpose: the
/// auth branch owns the public role-name helpers; this one can fold into them when both are merged.
/// </summary>
internal static class ConfiguredRole
{
    /// <summary>The accepted names, for error messages.</summary>
    public const string All = "admin, deployer, predictor, viewer";

    /// <summary>Parses <c>admin|deployer|predictor|viewer</c> (any case).</summary>
    public static bool TryParse(string? name, out Role role)
    {
        switch (name?.ToLowerInvariant())
        {
            case "admin": role = Role.Admin; return true;
            case "deployer": role = Role.Deployer; return true;
            case "predictor": role = Role.Predictor; return true;
            case "viewer": role = Role.Viewer; return true;
            default: role = default; return false;
        }
    }
}
