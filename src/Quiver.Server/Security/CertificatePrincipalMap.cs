using System.Text.Json;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// The <c>--mtls-principals</c> file: which principal (name, tenant, roles) each client certificate subject stands for.
/// A subject matches a certificate's CN or any of its DNS, URI (e.g. SPIFFE) or e-mail subject alternative names,
/// ignoring case. Immutable once loaded.
/// </summary>
/// <example><code>
/// { "principals": [
///   { "subject": "billing.internal", "name": "billing", "tenant": "acme", "roles": ["predictor"] },
///   { "subject": "spiffe://corp/ns/ml/sa/ci", "name": "ci", "roles": ["deployer"] } ] }
/// </code></example>
public sealed class CertificatePrincipalMap
{
    private readonly Dictionary<string, Principal> _bySubject;

    private CertificatePrincipalMap(Dictionary<string, Principal> bySubject) => _bySubject = bySubject;

    /// <summary>How many subjects are mapped.</summary>
    public int Count => _bySubject.Count;

    /// <summary>The principal of the first of <paramref name="identities"/> that is mapped, or null.</summary>
    public Principal? Find(IEnumerable<string> identities)
    {
        foreach (string identity in identities)
        {
            if (_bySubject.TryGetValue(identity, out Principal? principal))
            {
                return principal;
            }
        }

        return null;
    }

    /// <summary>Reads the file; throws <see cref="FormatException"/> naming every bad entry.</summary>
    public static CertificatePrincipalMap Load(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses the file's text; <paramref name="source"/> names it in errors.</summary>
    public static CertificatePrincipalMap Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new FormatException($"mTLS principals file {source} is not valid JSON: {e.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object ||
                !document.RootElement.TryGetProperty("principals", out JsonElement list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException($"mTLS principals file {source} must be an object with a \"principals\" array.");
            }

            var errors = new List<string>();
            var bySubject = new Dictionary<string, Principal>(StringComparer.OrdinalIgnoreCase);
            int index = 0;
            foreach (JsonElement entry in list.EnumerateArray())
            {
                string where = $"principals[{index++}]";
                if (ReadEntry(entry, where, errors) is not ({ } subject, { } principal))
                {
                    continue;
                }

                if (!bySubject.TryAdd(subject, principal))
                {
                    errors.Add($"{where}: subject '{subject}' is mapped twice.");
                }
            }

            if (errors.Count > 0)
            {
                throw new FormatException($"mTLS principals file {source}: {string.Join(" ", errors)}");
            }

            return new CertificatePrincipalMap(bySubject);
        }
    }

    private static (string Subject, Principal Principal)? ReadEntry(JsonElement entry, string where, List<string> errors)
    {
        string? subject = Text(entry, "subject");
        if (string.IsNullOrWhiteSpace(subject))
        {
            errors.Add($"{where}: \"subject\" (the certificate's CN or a SAN) is required.");
            return null;
        }

        var roles = new HashSet<Role>();
        if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("roles", out JsonElement roleList) && roleList.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement role in roleList.EnumerateArray())
            {
                if (role.ValueKind == JsonValueKind.String && ConfiguredRole.TryParse(role.GetString(), out Role parsed))
                {
                    roles.Add(parsed);
                }
                else
                {
                    errors.Add($"{where}: role {role.GetRawText()} is not one of {ConfiguredRole.All}.");
                }
            }
        }
        else
        {
            errors.Add($"{where}: \"roles\" must be an array of {ConfiguredRole.All}.");
        }

        string? tenant = Text(entry, "tenant");
        string name = Text(entry, "name") is { Length: > 0 } given ? given : subject;
        return (subject, new Principal(name, string.IsNullOrEmpty(tenant) ? null : tenant, roles, ClientCertificateAuthenticator.Method));
    }

    private static string? Text(JsonElement entry, string property) =>
        entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
