using System.Formats.Asn1;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// Turns a TLS client certificate into a <see cref="Principal"/> (method <c>mtls</c>): the certificate must be in its
/// validity period and chain to the configured CA bundle alone (a custom trust store: the system's CAs are not
/// trusted), then its CN or a SAN is looked up in the <see cref="CertificatePrincipalMap"/>. Every refusal is an
/// <see cref="AuthenticationFailedException"/> saying what was wrong.
/// </summary>
public sealed partial class ClientCertificateAuthenticator
{
    /// <summary>The <see cref="Principal.Method"/> of principals made here.</summary>
    public const string Method = "mtls";

    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";
    private const string SubjectAlternativeNameOid = "2.5.29.17";

    private readonly X509Certificate2Collection _trustedCas;
    private readonly CertificatePrincipalMap _principals;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;

    // A connection's certificate object is the same for each of its requests: its chain is built once, not per request.
    private readonly ConditionalWeakTable<X509Certificate2, Principal> _accepted = new();

    public ClientCertificateAuthenticator(X509Certificate2Collection trustedCas, CertificatePrincipalMap principals, TimeProvider clock, ILogger logger)
    {
        _trustedCas = trustedCas;
        _principals = principals;
        _clock = clock;
        _logger = logger;
    }

    /// <summary>
    /// Reads the CA bundle and the principals file of <paramref name="options"/>; throws <see cref="FormatException"/>
    /// (or <see cref="IOException"/>) saying which file is wrong.
    /// </summary>
    public static ClientCertificateAuthenticator Load(ClientCertificateOptions options, TimeProvider clock, ILogger logger)
    {
        var cas = new X509Certificate2Collection();
        try
        {
            cas.ImportFromPemFile(options.CaBundlePath!);
        }
        catch (CryptographicException e)
        {
            throw new FormatException($"--tls-client-ca {options.CaBundlePath} is not a PEM certificate bundle: {e.Message}");
        }

        if (cas.Count == 0)
        {
            throw new FormatException($"--tls-client-ca {options.CaBundlePath} holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
        }

        return new ClientCertificateAuthenticator(cas, CertificatePrincipalMap.Load(options.PrincipalsPath!), clock, logger);
    }

    /// <summary>Validates <paramref name="certificate"/> and returns the principal its subject is mapped to.</summary>
    public Principal Authenticate(X509Certificate2 certificate)
    {
        if (_accepted.TryGetValue(certificate, out Principal? known) && InValidityPeriod(certificate))
        {
            return known;
        }

        try
        {
            Validate(certificate);
            Principal principal = _principals.Find(IdentitiesOf(certificate))
                ?? throw new AuthenticationFailedException(
                    $"the client certificate '{CallerText.Shown(certificate.Subject)}' is trusted but not mapped to any principal on this server; " +
                    "ask the operator to add its CN or a subject alternative name to the mTLS principals file.");
            _accepted.AddOrUpdate(certificate, principal);
            return principal;
        }
        catch (AuthenticationFailedException e)
        {
            Log.Refused(_logger, e.Message);
            throw;
        }
    }

    /// <summary>
    /// Checks the validity period and the chain to the CA bundle (not the principal mapping); throws
    /// <see cref="AuthenticationFailedException"/> saying why the certificate is not good.
    /// </summary>
    public void Validate(X509Certificate2 certificate)
    {
        DateTimeOffset now = _clock.GetUtcNow();
        if (now < certificate.NotBefore.ToUniversalTime())
        {
            throw new AuthenticationFailedException($"the client certificate '{CallerText.Shown(certificate.Subject)}' is not valid before {Format(certificate.NotBefore)}.");
        }

        if (now > certificate.NotAfter.ToUniversalTime())
        {
            throw new AuthenticationFailedException($"the client certificate '{CallerText.Shown(certificate.Subject)}' expired at {Format(certificate.NotAfter)}; renew it.");
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_trustedCas);
        // Intermediates may come in the bundle too; nothing is fetched from the network (AIA) during a handshake.
        chain.ChainPolicy.ExtraStore.AddRange(_trustedCas);
        chain.ChainPolicy.DisableCertificateDownloads = true;
        // Revocation is not checked: no CRL or OCSP is configured (docs/security.md says to rotate short-lived certificates).
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthenticationOid));
        try
        {
            if (!chain.Build(certificate))
            {
                throw new AuthenticationFailedException(Describe(certificate, chain));
            }
        }
        finally
        {
            foreach (X509ChainElement element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    /// <summary>
    /// The handshake check of required mode (Kestrel itself refuses a connection with no certificate): true to accept;
    /// a refusal is logged, since the client sees only a TLS alert.
    /// </summary>
    internal bool AcceptAtHandshake(X509Certificate2 certificate)
    {
        try
        {
            Validate(certificate);
            return true;
        }
        catch (AuthenticationFailedException e)
        {
            Log.HandshakeRefused(_logger, CallerText.Shown(certificate.Subject), e.Message);
            return false;
        }
    }

    private static string Describe(X509Certificate2 certificate, X509Chain chain)
    {
        X509ChainStatusFlags flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, status) => all | status.Status);
        if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
        {
            return $"the client certificate '{CallerText.Shown(certificate.Subject)}' was issued by '{CallerText.Shown(certificate.Issuer)}', which is not a CA this server trusts for client certificates.";
        }

        // A CA of the same name is trusted, but its key did not sign this certificate: another CA posing under that name.
        if ((flags & X509ChainStatusFlags.NotSignatureValid) != 0)
        {
            return $"the client certificate '{CallerText.Shown(certificate.Subject)}' was issued by a '{CallerText.Shown(certificate.Issuer)}' that is not a CA this server trusts " +
                "(a trusted CA has that name, but did not sign this certificate).";
        }

        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            return $"the client certificate '{CallerText.Shown(certificate.Subject)}' chains to a CA certificate that is expired or not yet valid.";
        }

        if ((flags & (X509ChainStatusFlags.NotValidForUsage | X509ChainStatusFlags.InvalidExtension)) != 0)
        {
            return $"the client certificate '{CallerText.Shown(certificate.Subject)}' is not valid for client authentication (its extended key usage or its CA's forbids it).";
        }

        return $"the client certificate '{CallerText.Shown(certificate.Subject)}' does not chain to a trusted CA ({flags}).";
    }

    private bool InValidityPeriod(X509Certificate2 certificate)
    {
        DateTimeOffset now = _clock.GetUtcNow();
        return now >= certificate.NotBefore.ToUniversalTime() && now <= certificate.NotAfter.ToUniversalTime();
    }

    /// <summary>The names a certificate can be mapped by: its CN, then its DNS, URI and e-mail subject alternative names.</summary>
    internal static IEnumerable<string> IdentitiesOf(X509Certificate2 certificate)
    {
        string commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (commonName.Length > 0)
        {
            yield return commonName;
        }

        foreach (X509Extension extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != SubjectAlternativeNameOid)
            {
                continue;
            }

            foreach (string name in ReadSubjectAlternativeNames(extension.RawData))
            {
                yield return name;
            }
        }
    }

    // GeneralName (RFC 5280 4.2.1.6): rfc822Name [1], dNSName [2] and uniformResourceIdentifier [6] are IA5Strings.
    private static List<string> ReadSubjectAlternativeNames(byte[] der)
    {
        var names = new List<string>();
        try
        {
            AsnReader sequence = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            while (sequence.HasData)
            {
                Asn1Tag tag = sequence.PeekTag();
                if (tag.TagClass == TagClass.ContextSpecific && tag.TagValue is 1 or 2 or 6)
                {
                    names.Add(sequence.ReadCharacterString(UniversalTagNumber.IA5String, tag));
                }
                else
                {
                    sequence.ReadEncodedValue();
                }
            }
        }
        catch (AsnContentException)
        {
            // A malformed SAN maps nothing; the CN may still match.
        }

        return names;
    }

    private static string Format(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static partial class Log
    {
        [LoggerMessage(EventId = 624, Level = LogLevel.Information, Message = "client certificate refused: {Reason}")]
        public static partial void Refused(ILogger logger, string reason);

        [LoggerMessage(EventId = 625, Level = LogLevel.Warning, Message = "TLS handshake refused (client certificates required) for {Subject}: {Reason}")]
        public static partial void HandshakeRefused(ILogger logger, string subject, string reason);
    }
}
