using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Quiver.Core.Security;

/// <summary>
/// The text form of an API key, <c>qk_&lt;id&gt;_&lt;secret&gt;</c>: a 16-hex-digit id (8 random bytes) to find the key,
/// and a secret of 32 bytes from the OS's CSPRNG in base64url (43 characters). Only SHA-256 of the secret is stored:
/// with 256 bits of entropy a fast hash is enough, no password stretching is needed.
/// </summary>
public static class ApiKeySecret
{
    /// <summary>Every API key starts with this; a Bearer token without it is not an API key (a JWT, say).</summary>
    public const string Prefix = "qk_";

    private const int IdBytes = 8;
    private const int SecretBytes = 32;

    /// <summary>A new random key: its id, its secret part, and the full text to hand to the client once.</summary>
    public static (string Id, string Secret, string Key) Generate()
    {
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdBytes));
        string secret = Base64UrlEncode(RandomNumberGenerator.GetBytes(SecretBytes));
        return (id, secret, $"{Prefix}{id}_{secret}");
    }

    /// <summary>Splits a presented key into id and secret; false when it does not have the shape of a Quiver key.</summary>
    public static bool TryParse(string key, [NotNullWhen(true)] out string? id, [NotNullWhen(true)] out string? secret)
    {
        id = null;
        secret = null;
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length != Prefix.Length + IdBytes * 2 + 1 + 43
            || key[Prefix.Length + IdBytes * 2] != '_')
        {
            return false;
        }

        string idPart = key.Substring(Prefix.Length, IdBytes * 2);
        if (!idPart.All(char.IsAsciiHexDigitLower))
        {
            return false;
        }

        id = idPart;
        secret = key[(Prefix.Length + IdBytes * 2 + 1)..];
        return true;
    }

    /// <summary>The stored form of a secret: SHA-256 of its UTF-8 bytes, lowercase hex.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Whether <paramref name="secret"/> hashes to <paramref name="storedHash"/>, in time independent of where they differ.</summary>
    public static bool Matches(string secret, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(secret)), Encoding.ASCII.GetBytes(storedHash));

    private static string Base64UrlEncode(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
