using System.Security.Cryptography;

namespace Quiver.Core.Security;

/// <summary>
/// Replaces sensitive values by keyed hashes (HMAC-SHA256): equal values give equal pseudonyms, so logs can still be
/// joined and counted, but without the key a pseudonym cannot be turned back into its value or checked against a guess.
/// </summary>
public sealed class Pseudonymizer(byte[] key)
{
    /// <summary>The key file's size: 32 random bytes.</summary>
    public const int KeyBytes = 32;

    private readonly byte[] _key = key.Length >= KeyBytes ? key : throw new ArgumentException($"A pseudonym key needs at least {KeyBytes} bytes.", nameof(key));

    /// <summary>Reads the key file, creating it with a random key (owner-only) the first time, so pseudonyms stay stable across restarts.</summary>
    public static Pseudonymizer FromKeyFile(string path)
    {
        KeyFile.CreateIfMissing(path, KeyBytes);
        return new Pseudonymizer(File.ReadAllBytes(path));
    }

    /// <summary>The pseudonym of a value: "hmac-sha256:" and 64 hex digits.</summary>
    public string Pseudonym(ReadOnlySpan<byte> value) => "hmac-sha256:" + Convert.ToHexStringLower(HMACSHA256.HashData(_key, value));

    /// <summary>The pseudonym of a text value, of its UTF-8 bytes (so a BYTES element and the same text agree).</summary>
    public string Pseudonym(string value) => Pseudonym(System.Text.Encoding.UTF8.GetBytes(value));
}
