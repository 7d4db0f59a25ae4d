using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Security;
using Quiver.Server.Security;
using Quiver.Server.Tests.Dashboard;

namespace Quiver.Server.Tests.Security;

/// <summary>The client certificate authenticator called directly, with a test CA, its clients and a stranger CA.</summary>
public sealed class ClientCertificateAuthenticatorTests : IDisposable
{
    private const string Principals = """
        { "principals": [
            { "subject": "billing", "name": "billing-service", "tenant": "acme", "roles": ["predictor", "viewer"] },
            { "subject": "deployer.ml.internal", "name": "ci", "roles": ["deployer"] },
            { "subject": "spiffe://corp.test/ns/ml/sa/batch", "name": "batch", "tenant": "globex", "roles": ["predictor"] }
        ] }
        """;

    private readonly ManualClock _clock = new();
    private readonly X509Certificate2 _ca;
    private readonly X509Certificate2 _strangerCa;
    private readonly X509Certificate2 _impostorCa;

    public ClientCertificateAuthenticatorTests()
    {
        _ca = TestCertificates.CreateCa("Quiver Test Client CA", _clock.GetUtcNow());
        _strangerCa = TestCertificates.CreateCa("Someone Else's CA", _clock.GetUtcNow());
        _impostorCa = TestCertificates.CreateCa("Quiver Test Client CA", _clock.GetUtcNow());
    }

    public void Dispose()
    {
        _ca.Dispose();
        _strangerCa.Dispose();
        _impostorCa.Dispose();
    }

    private DateTimeOffset Now => _clock.GetUtcNow();

    private ClientCertificateAuthenticator Create() =>
        new([X509CertificateLoader.LoadCertificate(_ca.RawData)], CertificatePrincipalMap.Parse(Principals, "principals.json"), _clock, NullLogger.Instance);

    private X509Certificate2 Client(string cn, X509Certificate2? ca = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null,
        string[]? dns = null, Uri? uri = null, bool clientAuth = true) =>
        TestCertificates.Issue(ca ?? _ca, cn, notBefore ?? Now.AddDays(-1), notAfter ?? Now.AddDays(30), dns, uri, clientAuth);

    [Fact]
    public void Authenticate_GoodClient_MapsItsCommonName()
    {
        using X509Certificate2 certificate = Client("billing");

        Principal principal = Create().Authenticate(certificate);

        Assert.Equal(new Principal("billing-service", "acme", principal.Roles, "mtls"), principal);
        Assert.Equal(new HashSet<Role> { Role.Predictor, Role.Viewer }, principal.Roles.ToHashSet());
    }

    [Fact]
    public void Authenticate_DnsSubjectAlternativeName_IsMapped()
    {
        using X509Certificate2 certificate = Client("some-pod-7f9c", dns: ["deployer.ml.internal"]);

        Principal principal = Create().Authenticate(certificate);

        Assert.Equal("ci", principal.Name);
        Assert.Null(principal.Tenant);
        Assert.Equal([Role.Deployer], principal.Roles);
    }

    [Fact]
    public void Authenticate_SpiffeUriSubjectAlternativeName_IsMapped()
    {
        using X509Certificate2 certificate = Client("workload", uri: new Uri("spiffe://corp.test/ns/ml/sa/batch"));

        Assert.Equal("batch", Create().Authenticate(certificate).Name);
    }

    [Fact]
    public void Authenticate_Expired_SaysWhen()
    {
        DateTimeOffset expiry = Now.AddDays(-1);
        using X509Certificate2 certificate = Client("billing", notBefore: Now.AddDays(-10), notAfter: expiry);

        var error = Assert.Throws<AuthenticationFailedException>(() => Create().Authenticate(certificate));

        Assert.Contains("'CN=billing' expired at", error.Message);
        Assert.Contains(expiry.UtcDateTime.ToString("yyyy-MM-dd"), error.Message);
    }

    [Fact]
    public void Authenticate_ExpiresWhileCached_IsRefusedOnItsNextUse()
    {
        using X509Certificate2 certificate = Client("billing", notAfter: Now.AddHours(1));
        ClientCertificateAuthenticator authenticator = Create();
        authenticator.Authenticate(certificate);

        _clock.Advance(TimeSpan.FromHours(2));

        Assert.Contains("expired", Assert.Throws<AuthenticationFailedException>(() => authenticator.Authenticate(certificate)).Message);
    }

    [Fact]
    public void Authenticate_NotYetValid_SaysFromWhen()
    {
        using X509Certificate2 certificate = Client("billing", notBefore: Now.AddDays(2), notAfter: Now.AddDays(30));

        var error = Assert.Throws<AuthenticationFailedException>(() => Create().Authenticate(certificate));

        Assert.Contains("is not valid before", error.Message);
    }

    [Fact]
    public void Authenticate_FromAnotherCa_IsRefusedNamingItsIssuer()
    {
        using X509Certificate2 certificate = Client("billing", ca: _strangerCa);

        var error = Assert.Throws<AuthenticationFailedException>(() => Create().Authenticate(certificate));

        Assert.Contains("issued by 'CN=Someone Else's CA', which is not a CA this server trusts", error.Message);
    }

    [Fact]
    public void Authenticate_FromAnotherCaWithTheTrustedName_IsRefused()
    {
        // Same issuer name, different key: only the signature tells them apart.
        using X509Certificate2 certificate = Client("billing", ca: _impostorCa);

        var error = Assert.Throws<AuthenticationFailedException>(() => Create().Authenticate(certificate));

        Assert.Contains("not a CA this server trusts (a trusted CA has that name, but did not sign this certificate)", error.Message);
    }

    [Fact]
    public void Authenticate_ServerOnlyCertificate_IsRefusedForItsKeyUsage()
    {
        using X509Certificate2 certificate = Client("billing", clientAuth: false);

        var error = Assert.Throws<AuthenticationFailedException>(() => Create().Authenticate(certificate));

        Assert.Contains("not valid for client authentication", error.Message);
    }

    [Fact]
    public void Authenticate_TrustedButUnmapped_SaysToAddItToThePrincipalsFile()
    {
        using X509Certificate2 certificate = Client("intern-laptop");

        var error = Assert.Throws<AuthenticationFailedException>(() => Create().Authenticate(certificate));

        Assert.Contains("'CN=intern-laptop' is trusted but not mapped", error.Message);
    }

    [Fact]
    public void Validate_ChecksTrustButNotTheMapping()
    {
        using X509Certificate2 unmapped = Client("intern-laptop");
        using X509Certificate2 stranger = Client("billing", ca: _strangerCa);
        ClientCertificateAuthenticator authenticator = Create();

        authenticator.Validate(unmapped);
        Assert.Throws<AuthenticationFailedException>(() => authenticator.Validate(stranger));
    }

    [Fact]
    public void PrincipalMap_BadEntries_AreListedTogether()
    {
        var error = Assert.Throws<FormatException>(() => CertificatePrincipalMap.Parse("""
            { "principals": [
                { "name": "no subject", "roles": ["viewer"] },
                { "subject": "a", "roles": ["superuser"] },
                { "subject": "b" },
                { "subject": "A", "roles": [] }
            ] }
            """, "p.json"));

        Assert.Contains("principals[0]: \"subject\"", error.Message);
        Assert.Contains("principals[1]: role \"superuser\"", error.Message);
        Assert.Contains("principals[2]: \"roles\" must be an array", error.Message);
        Assert.Contains("principals[3]: subject 'A' is mapped twice", error.Message);
    }

    [Fact]
    public void PrincipalMap_NotJson_NamesTheFile()
    {
        var error = Assert.Throws<FormatException>(() => CertificatePrincipalMap.Parse("principals: [", "/etc/quiver/mtls.json"));

        Assert.Contains("/etc/quiver/mtls.json is not valid JSON", error.Message);
    }
}
