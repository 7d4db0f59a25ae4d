using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Quiver.Server.Tests.Security;

/// <summary>Certificates made by the test with <see cref="CertificateRequest"/>: CAs and the client certificates they issue.</summary>
internal static class TestCertificates
{
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>A self-signed CA valid from 30 days before <paramref name="now"/> for a year (room for expired clients).</summary>
    public static X509Certificate2 CreateCa(string name, DateTimeOffset now)
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddDays(-30), now.AddYears(1));
    }

    /// <summary>
    /// A client certificate for CN=<paramref name="commonName"/> issued by <paramref name="ca"/>, with its private key,
    /// valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>.
    /// </summary>
    public static X509Certificate2 Issue(X509Certificate2 ca, string commonName, DateTimeOffset notBefore, DateTimeOffset notAfter,
        string[]? dnsNames = null, Uri? uri = null, bool forClientAuthentication = true)
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(forClientAuthentication ? ClientAuthentication : ServerAuthentication)], false));
        if (dnsNames is not null || uri is not null)
        {
            var names = new SubjectAlternativeNameBuilder();
            foreach (string dns in dnsNames ?? [])
            {
                names.AddDnsName(dns);
            }

            if (uri is not null)
            {
                names.AddUri(uri);
            }

            request.CertificateExtensions.Add(names.Build());
        }

        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using X509Certificate2 certificate = request.Create(ca, notBefore, notAfter, serial);
        // Round-trip through PKCS#12 so the private key is usable by the TLS stack like a certificate loaded from disk.
        using X509Certificate2 withKey = certificate.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12, ""), "");
    }

    /// <summary>Writes <paramref name="certificates"/> as one PEM bundle.</summary>
    public static void WritePem(string path, params X509Certificate2[] certificates) =>
        File.WriteAllText(path, string.Concat(certificates.Select(c => c.ExportCertificatePem() + "\n")));
}
