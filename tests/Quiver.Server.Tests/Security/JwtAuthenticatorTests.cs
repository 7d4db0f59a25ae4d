using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.Tokens;
using Quiver.Core.Security;
using Quiver.Server.Security;
using Quiver.Server.Tests.Dashboard;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// The JWT authenticator against a JWKS file, with keys and tokens made here and a manual clock, so expiry is exact:
/// every bad token of issue 7 refused with its own message.
/// </summary>
public sealed class JwtAuthenticatorTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-jwt-").FullName;
    private readonly TestSigningKeys _idp = new();
    private readonly ManualClock _clock = new();
    private readonly RsaSecurityKey _rsa;
    private readonly ECDsaSecurityKey _ecdsa;

    public JwtAuthenticatorTests()
    {
        _rsa = _idp.AddRsa("rsa-1");
        _ecdsa = _idp.AddEcdsa("ec-1");
        File.WriteAllText(JwksPath, _idp.Jwks());
    }

    private string JwksPath => Path.Combine(_folder, "jwks.json");

    private DateTimeOffset Now => _clock.GetUtcNow();

    public void Dispose()
    {
        _idp.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private JwtAuthenticator Create(Func<JwtOptions, JwtOptions>? configure = null)
    {
        var options = new JwtOptions { Jwks = JwksPath, Issuer = TestSigningKeys.Issuer, Audience = TestSigningKeys.Audience, TenantClaim = "tenant" };
        options = configure?.Invoke(options) ?? options;
        var errors = new List<string>();
        options.Validate(errors);
        Assert.Empty(errors);
        return new JwtAuthenticator(options, _clock, NullLogger.Instance);
    }

    private string Token(SecurityKey key, TimeSpan? validFor = null, IDictionary<string, object>? claims = null, string issuer = TestSigningKeys.Issuer,
        string audience = TestSigningKeys.Audience) =>
        TestSigningKeys.Token(key, Now.AddMinutes(-1), Now + (validFor ?? TimeSpan.FromMinutes(10)),
            claims ?? new Dictionary<string, object> { ["tenant"] = "acme", ["roles"] = new[] { "predictor", "viewer" } }, issuer, audience);

    private static async Task<string> RefusedAsync(JwtAuthenticator authenticator, string token)
    {
        var error = await Assert.ThrowsAsync<AuthenticationFailedException>(() => authenticator.AuthenticateAsync(token, CancellationToken.None));
        return error.Message;
    }

    [Fact]
    public async Task Authenticate_RsaToken_MapsNameTenantAndRoles()
    {
        using JwtAuthenticator authenticator = Create();

        Principal principal = await authenticator.AuthenticateAsync(Token(_rsa), CancellationToken.None);

        Assert.Equal("alice", principal.Name);
        Assert.Equal("acme", principal.Tenant);
        Assert.Equal(new HashSet<Role> { Role.Predictor, Role.Viewer }, principal.Roles.ToHashSet());
        Assert.Equal("jwt", principal.Method);
    }

    [Fact]
    public async Task Authenticate_EcdsaToken_IsAccepted()
    {
        using JwtAuthenticator authenticator = Create();

        Principal principal = await authenticator.AuthenticateAsync(Token(_ecdsa), CancellationToken.None);

        Assert.Equal("alice", principal.Name);
    }

    [Fact]
    public async Task Authenticate_RoleMap_MapsGroupsAndIgnoresUnmappedValues()
    {
        using JwtAuthenticator authenticator = Create(o => o with
        {
            RoleClaim = "groups", TenantClaim = null,
            RoleMap = new Dictionary<string, string> { ["ml-platform"] = "deployer", ["analysts"] = "viewer" },
        });
        string token = Token(_rsa, claims: new Dictionary<string, object> { ["groups"] = new[] { "ml-platform", "admin", "payroll" } });

        Principal principal = await authenticator.AuthenticateAsync(token, CancellationToken.None);

        // "admin" is not in the map: with a map configured, only its entries count.
        Assert.Equal([Role.Deployer], principal.Roles);
        Assert.Null(principal.Tenant);
    }

    [Fact]
    public async Task Authenticate_SpaceSeparatedScopeClaim_MapsEachValue()
    {
        using JwtAuthenticator authenticator = Create(o => o with { RoleClaim = "scope", TenantClaim = null });

        Principal principal = await authenticator.AuthenticateAsync(
            Token(_rsa, claims: new Dictionary<string, object> { ["scope"] = "openid predictor viewer" }), CancellationToken.None);

        Assert.Equal(new HashSet<Role> { Role.Predictor, Role.Viewer }, principal.Roles.ToHashSet());
    }

    [Fact]
    public async Task Authenticate_MissingToken_SaysHowToSendOne()
    {
        using JwtAuthenticator authenticator = Create();

        Assert.Contains("no bearer token", await RefusedAsync(authenticator, ""));
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b")]
    public async Task Authenticate_NotThreeParts_IsRefusedAsNotAJwt(string token)
    {
        using JwtAuthenticator authenticator = Create();

        string message = await RefusedAsync(authenticator, token);

        Assert.Contains("not a JWT", message);
        Assert.Contains("header.payload.signature", message);
    }

    [Fact]
    public async Task Authenticate_GarbledParts_IsRefusedAsMalformed()
    {
        using JwtAuthenticator authenticator = Create();

        Assert.Contains("malformed", await RefusedAsync(authenticator, "!!!.@@@.###"));
    }

    [Fact]
    public async Task Authenticate_Expired_SaysWhenItExpired()
    {
        using JwtAuthenticator authenticator = Create();
        string token = Token(_rsa, validFor: TimeSpan.FromMinutes(5));
        DateTimeOffset expiry = Now.AddMinutes(5);
        _clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(61));

        string message = await RefusedAsync(authenticator, token);

        Assert.Contains($"expired at {expiry.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}", message);
    }

    [Fact]
    public async Task Authenticate_ExpiredWithinClockSkew_IsAccepted()
    {
        using JwtAuthenticator authenticator = Create();
        string token = Token(_rsa, validFor: TimeSpan.FromMinutes(5));
        _clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(59));

        Principal principal = await authenticator.AuthenticateAsync(token, CancellationToken.None);

        Assert.Equal("alice", principal.Name);
    }

    [Fact]
    public async Task Authenticate_NotYetValid_SaysFromWhen()
    {
        using JwtAuthenticator authenticator = Create();
        DateTimeOffset notBefore = Now.AddMinutes(5);
        string token = TestSigningKeys.Token(_rsa, notBefore, notBefore.AddMinutes(10), new Dictionary<string, object> { ["tenant"] = "acme" });

        string message = await RefusedAsync(authenticator, token);

        Assert.Contains($"not valid before {notBefore.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}", message);
    }

    [Fact]
    public async Task Authenticate_WrongIssuer_NamesBothIssuers()
    {
        using JwtAuthenticator authenticator = Create();

        string message = await RefusedAsync(authenticator, Token(_rsa, issuer: "https://evil.test"));

        Assert.Contains("issuer 'https://evil.test' is not trusted", message);
        Assert.Contains(TestSigningKeys.Issuer, message);
    }

    [Fact]
    public async Task Authenticate_IssuerCraftedToForgeLogLines_IsShownWithoutControlCharactersAndCut()
    {
        using JwtAuthenticator authenticator = Create();
        string crafted = "https://evil.test\ninfo: Quiver.Server[2] all good" + new string('x', 200);

        string message = await RefusedAsync(authenticator, Token(_rsa, issuer: crafted));

        Assert.DoesNotContain('\n', message);
        Assert.Contains("issuer 'https://evil.test?info: Quiver.Server[2] all good", message);
        Assert.Contains("x...' is not trusted", message);
        Assert.DoesNotContain(new string('x', 121), message);
    }

    [Fact]
    public async Task Authenticate_WrongAudience_SaysWhichAudienceToAskFor()
    {
        using JwtAuthenticator authenticator = Create();

        string message = await RefusedAsync(authenticator, Token(_rsa, audience: "payroll-api"));

        Assert.Contains("for audience 'payroll-api', not for this server ('quiver-api')", message);
    }

    [Fact]
    public async Task Authenticate_WrongSignature_IsRefused()
    {
        using JwtAuthenticator authenticator = Create();
        using var stranger = new TestSigningKeys();
        // Someone else's key claiming the identity provider's key id.
        RsaSecurityKey forger = stranger.AddRsa("rsa-1");

        string message = await RefusedAsync(authenticator, Token(forger));

        Assert.Contains("signature does not verify with the identity provider's key 'rsa-1'", message);
    }

    [Fact]
    public async Task Authenticate_TamperedPayload_IsRefusedForItsSignature()
    {
        using JwtAuthenticator authenticator = Create();
        string[] parts = Token(_rsa).Split('.');
        string payload = Base64UrlEncoder.Decode(parts[1]).Replace("\"predictor\"", "\"admin\"");

        string message = await RefusedAsync(authenticator, $"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}");

        Assert.Contains("signature does not verify", message);
    }

    [Fact]
    public async Task Authenticate_AlgNone_IsRefusedAsUnsigned()
    {
        using JwtAuthenticator authenticator = Create();

        string message = await RefusedAsync(authenticator, TestSigningKeys.Unsigned(Now.AddMinutes(-1), Now.AddMinutes(10), "rsa-1"));

        Assert.Contains("unsigned (alg: none)", message);
    }

    [Fact]
    public async Task Authenticate_SignatureStripped_IsRefused()
    {
        using JwtAuthenticator authenticator = Create();
        string token = Token(_rsa);

        string message = await RefusedAsync(authenticator, token[..(token.LastIndexOf('.') + 1)]);

        Assert.Contains("names RS256 but carries no signature", message);
    }

    [Fact]
    public async Task Authenticate_HmacSignedWithThePublicKey_IsRefused()
    {
        using JwtAuthenticator authenticator = Create();

        string message = await RefusedAsync(authenticator, TestSigningKeys.HmacWithPublicKey(_rsa, Now.AddMinutes(-1), Now.AddMinutes(10)));

        Assert.Contains("HS256, a shared-secret (HMAC) algorithm", message);
    }

    [Fact]
    public async Task Authenticate_WithoutTenantClaim_IsRefusedWhenTenantsAreConfigured()
    {
        using JwtAuthenticator authenticator = Create();

        string message = await RefusedAsync(authenticator, Token(_rsa, claims: new Dictionary<string, object> { ["roles"] = new[] { "admin" } }));

        Assert.Contains("no 'tenant' claim", message);
    }

    [Fact]
    public async Task Authenticate_UnknownKid_RereadsTheFileOnceAndNamesTheKnownKeys()
    {
        using JwtAuthenticator authenticator = Create();
        await authenticator.AuthenticateAsync(Token(_rsa), CancellationToken.None);
        using var other = new TestSigningKeys();
        string unknown = Token(other.AddRsa("rsa-9"));
        _clock.Advance(TimeSpan.FromMinutes(1));

        string first = await RefusedAsync(authenticator, unknown);
        string second = await RefusedAsync(authenticator, unknown);

        Assert.Contains("key id 'rsa-9'", first);
        Assert.Contains("rsa-1, ec-1", first);
        Assert.Equal(first, second);
        // One read at the first token, one for the unknown kid; the second unknown kid is inside the rate limit.
        Assert.Equal(2, authenticator.JwksReads);
    }

    [Fact]
    public async Task Authenticate_RotatedKeyInFile_IsPickedUpAfterTheRefreshInterval()
    {
        using JwtAuthenticator authenticator = Create();
        await authenticator.AuthenticateAsync(Token(_rsa), CancellationToken.None);
        RsaSecurityKey rotated = _idp.AddRsa("rsa-2");
        File.WriteAllText(JwksPath, _idp.Jwks());
        _clock.Advance(TimeSpan.FromSeconds(31));

        Principal principal = await authenticator.AuthenticateAsync(Token(rotated), CancellationToken.None);

        Assert.Equal("alice", principal.Name);
    }

    [Fact]
    public async Task Authenticate_RotatedKeyInsideTheRateLimit_WaitsForTheInterval()
    {
        using JwtAuthenticator authenticator = Create();
        await authenticator.AuthenticateAsync(Token(_rsa), CancellationToken.None);
        RsaSecurityKey rotated = _idp.AddRsa("rsa-2");
        File.WriteAllText(JwksPath, _idp.Jwks());

        Assert.Contains("key id 'rsa-2'", await RefusedAsync(authenticator, Token(rotated)));
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("alice", (await authenticator.AuthenticateAsync(Token(rotated), CancellationToken.None)).Name);
    }

    [Fact]
    public async Task LoadKeys_JwksWithoutAsymmetricKeys_ReportsIt()
    {
        File.WriteAllText(JwksPath, """{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}""");
        using JwtAuthenticator authenticator = Create();

        string? error = await authenticator.LoadKeysAsync();

        Assert.Contains("no RSA or EC signing key", error);
    }

    [Fact]
    public void Validate_IncompleteOptions_ListsEveryProblem()
    {
        var errors = new List<string>();
        new JwtOptions
        {
            Jwks = "http://idp.example.com/jwks", ClockSkew = TimeSpan.FromHours(1),
            RoleMap = new Dictionary<string, string> { ["ops"] = "superuser" },
        }.Validate(errors);

        Assert.Contains(errors, e => e.Contains("over https"));
        Assert.Contains(errors, e => e.Contains("--jwt-issuer is required"));
        Assert.Contains(errors, e => e.Contains("--jwt-audience is required"));
        Assert.Contains(errors, e => e.Contains("--jwt-clock-skew"));
        Assert.Contains(errors, e => e.Contains("'ops=superuser'"));
    }
}
