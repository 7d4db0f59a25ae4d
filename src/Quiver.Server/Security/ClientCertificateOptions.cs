namespace Quiver.Server.Security;

/// <summary>Whether the TLS ports ask callers for a client certificate (<c>--tls-client-cert</c>).</summary>
public enum ClientCertificateRequirement
{
    /// <summary>No certificate is asked for (the default).</summary>
    None,

    /// <summary>A certificate is asked for but may be absent; one presented and bad gets 401 from the authentication middleware.</summary>
    Optional,

    /// <summary>The TLS handshake is refused without a certificate from the configured CA bundle that is in its validity period.</summary>
    Required,
}

/// <summary>
/// Mutual TLS: which CA bundle client certificates must chain to, and the file that maps certificate subjects to
/// principals. Bound from <c>--tls-client-cert</c>, <c>--tls-client-ca</c> and <c>--mtls-principals</c>.
/// </summary>
public sealed record ClientCertificateOptions
{
    /// <summary>Whether client certificates are asked for. Defaults to <see cref="ClientCertificateRequirement.None"/>.</summary>
    public ClientCertificateRequirement Mode { get; init; } = ClientCertificateRequirement.None;

    /// <summary>PEM file of the CA certificates trusted to issue client certificates; nothing else is trusted (not the system store).</summary>
    public string? CaBundlePath { get; init; }

    /// <summary>JSON file mapping certificate subjects (CN or SAN) to principals; see docs/security.md.</summary>
    public string? PrincipalsPath { get; init; }

    /// <summary>Adds every problem with these options to <paramref name="errors"/>; <paramref name="tls"/> says whether TLS is on.</summary>
    public void Validate(List<string> errors, bool tls)
    {
        if (Mode == ClientCertificateRequirement.None)
        {
            if (CaBundlePath is not null || PrincipalsPath is not null)
            {
                errors.Add("--tls-client-ca and --mtls-principals have no effect with --tls-client-cert none; pass --tls-client-cert optional or required.");
            }

            return;
        }

        string mode = Mode.ToString().ToLowerInvariant();
        if (!tls)
        {
            errors.Add($"--tls-client-cert {mode} needs TLS: give --tls-cert and --tls-key too.");
        }

        if (CaBundlePath is null)
        {
            errors.Add($"--tls-client-cert {mode} needs --tls-client-ca: the PEM bundle of the CAs that issue client certificates.");
        }
        else if (!File.Exists(CaBundlePath))
        {
            errors.Add($"--tls-client-ca file '{CaBundlePath}' does not exist.");
        }

        if (PrincipalsPath is null)
        {
            errors.Add($"--tls-client-cert {mode} needs --mtls-principals: the JSON file mapping certificate subjects to names, roles and tenants.");
        }
        else if (!File.Exists(PrincipalsPath))
        {
            errors.Add($"--mtls-principals file '{PrincipalsPath}' does not exist.");
        }
    }
}
