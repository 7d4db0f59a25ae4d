using System.Security.Cryptography;
using System.Text;

namespace Quiver.Core.Security.Audit;

/// <summary>
/// The secret the audit anchors are MACed with. It lives in a file outside the database (by default
/// <c>audit.key</c> in the data directory, created on first use), so write access to the database alone cannot forge
/// anchors. Replicas sharing one PostgreSQL registry must be given the same file.
/// </summary>
public sealed class AuditKey
{
    /// <summary>The key file's name in the data directory when none is configured.</summary>
    public const string DefaultFileName = "audit.key";

    private const int KeyBytes = 32;

    private readonly byte[] _key;

    private AuditKey(byte[] key)
    {
        _key = key;
        KeyId = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("quiver audit key id").Concat(key).ToArray()).AsSpan(0, 8));
    }

    /// <summary>16 hex digits naming the key without revealing it.</summary>
    public string KeyId { get; }

    /// <summary>A key from its bytes (at least 32).</summary>
    public static AuditKey FromBytes(byte[] key)
    {
        if (key.Length < KeyBytes)
        {
            throw new FormatException($"an audit key must be at least {KeyBytes} bytes, got {key.Length}.");
        }

        return new AuditKey((byte[])key.Clone());
    }

    /// <summary>A new random key, not saved.</summary>
    public static AuditKey Generate() => new(RandomNumberGenerator.GetBytes(KeyBytes));

    /// <summary>Reads the key file (32+ raw bytes, or base64 text of them).</summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="FormatException">The file holds no usable key.</exception>
    public static AuditKey FromFile(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"the audit key file '{path}' does not exist; give the file the server uses (--audit-key-file, default {DefaultFileName} in the data directory).", path);
        }

        byte[] content = File.ReadAllBytes(path);
        if (content.Length == KeyBytes)
        {
            return new AuditKey(content);
        }

        try
        {
            return FromBytes(Convert.FromBase64String(Encoding.UTF8.GetString(content).Trim()));
        }
        catch (FormatException e)
        {
            throw new FormatException($"the audit key file '{path}' holds neither {KeyBytes} raw bytes nor base64 of at least {KeyBytes} bytes.", e);
        }
    }

    /// <summary>Reads the key file, creating it (readable by its owner only) with a new random key when missing.</summary>
    public static AuditKey LoadOrCreate(string path)
    {
        KeyFile.CreateIfMissing(path, KeyBytes);
        return FromFile(path);
    }

    /// <summary>HMAC-SHA256 of <paramref name="data"/>, hex.</summary>
    internal string Mac(byte[] data) => Convert.ToHexStringLower(HMACSHA256.HashData(_key, data));
}
