using System.Security.Cryptography;
using System.Text;

namespace Quiver.Core.Storage;

/// <summary>
/// The AES-256 key that wraps each artifact's data key (envelope encryption). Loaded from a key file or an
/// environment variable; its <see cref="KeyId"/> travels with every wrapped key so a wrong key is named, not tried.
/// </summary>
public sealed class MasterKey
{
    /// <summary>Length of a master key and of a data key: 32 bytes (AES-256).</summary>
    public const int KeyBytes = 32;

    /// <summary>The environment variable conventionally holding a base64 master key.</summary>
    public const string DefaultEnvironmentVariable = "QUIVER_MASTER_KEY";

    // A wrapped data key, version 1, 69 bytes:
    //   [0]       format version (1)
    //   [1..9)    id of the master key that wrapped it (the raw bytes behind KeyId)
    //   [9..21)   AES-GCM nonce, random
    //   [21..53)  the data key, encrypted with AES-256-GCM under the master key
    //   [53..69)  AES-GCM tag; the associated data is bytes [0..9), so the version and id cannot be altered
    // Random 96-bit nonces under one master key stay safe for about 2^32 wraps (NIST SP 800-38D), far beyond
    // the number of artifacts a registry holds.
    private const byte WrapVersion = 1;
    private const int IdBytes = 8;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private const int HeaderBytes = 1 + IdBytes;
    private const int WrappedBytes = HeaderBytes + NonceBytes + KeyBytes + TagBytes;

    private readonly byte[] _key;
    private readonly byte[] _id;

    private MasterKey(byte[] key)
    {
        _key = key;
        _id = IdOf("quiver master key id", key);
        KeyId = Convert.ToHexStringLower(_id);
    }

    /// <summary>16 hex digits naming the key without revealing it (a truncated SHA-256 of a label and the key).</summary>
    public string KeyId { get; }

    /// <summary>
    /// Where <c>quiver keys rotate</c> keeps the new key while it re-wraps data keys (the key file's path plus ".new"):
    /// servers consult it for a key id their key file lacks, so loads keep working between the two steps.
    /// </summary>
    public static string PendingPathFor(string keyFile) => keyFile + ".new";

    /// <summary>A new random key.</summary>
    public static MasterKey Generate() => new(RandomNumberGenerator.GetBytes(KeyBytes));

    /// <summary>Loads a key file: exactly 32 bytes is the raw key; anything else must be base64 of 32 bytes (whitespace ignored).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="FormatException">The content is not a 32-byte key.</exception>
    public static MasterKey FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] content;
        try
        {
            content = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"The master key file '{path}' does not exist.", path, e);
        }

        if (content.Length == KeyBytes)
        {
            return new MasterKey(content);
        }

        try
        {
            return FromBase64(Encoding.UTF8.GetString(content), $"master key file '{path}' (not {KeyBytes} raw bytes, so read as base64 text)");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
        }
    }

    /// <summary>Loads a base64 key from an environment variable.</summary>
    /// <exception cref="InvalidOperationException">The variable is not set.</exception>
    /// <exception cref="FormatException">The value is not base64 of 32 bytes.</exception>
    public static MasterKey FromEnvironment(string variable = DefaultEnvironmentVariable)
    {
        ArgumentException.ThrowIfNullOrEmpty(variable);
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidOperationException(
                $"The environment variable {variable} is not set; it should hold a base64 master key of {KeyBytes} bytes.");
        }

        return FromBase64(value, $"environment variable {variable}");
    }

    /// <summary>Reads a base64 key; <paramref name="source"/> names where it came from in error messages.</summary>
    /// <exception cref="FormatException">The text is not base64 of 32 bytes.</exception>
    public static MasterKey FromBase64(string text, string source = "master key")
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] key;
        try
        {
            key = Convert.FromBase64String(text.Trim());
        }
        catch (FormatException e)
        {
            throw new FormatException(
                $"The {source} is not valid base64 ({e.Message}). Generate a key with 'openssl rand -base64 {KeyBytes}'.", e);
        }

        if (key.Length != KeyBytes)
        {
            var length = key.Length;
            CryptographicOperations.ZeroMemory(key);
            throw new FormatException(
                $"The {source} decodes to {length} bytes; a master key is exactly {KeyBytes} bytes (AES-256). Generate a key with 'openssl rand -base64 {KeyBytes}'.");
        }

        return new MasterKey(key);
    }

    /// <summary>The key as base64 text, the form <see cref="FromBase64"/> and <see cref="FromFile"/> read.</summary>
    public string ToBase64() => Convert.ToBase64String(_key);

    /// <summary>Writes the key as base64 text, readable by its owner only, atomically replacing <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        var tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using (var stream = new FileStream(tempPath, options))
            {
                stream.Write(Encoding.ASCII.GetBytes(ToBase64() + "\n"));
                stream.Flush(flushToDisk: true);
            }

            File.Move(tempPath, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(tempPath))
            {
                File.Delete(tempPath);
            }
        }
    }

    /// <summary>Encrypts a 32-byte data key under this key; the result names this key's id.</summary>
    public byte[] Wrap(ReadOnlySpan<byte> dataKey)
    {
        if (dataKey.Length != KeyBytes)
        {
            throw new ArgumentException($"A data key is {KeyBytes} bytes, not {dataKey.Length}.", nameof(dataKey));
        }

        var wrapped = new byte[WrappedBytes];
        wrapped[0] = WrapVersion;
        _id.CopyTo(wrapped, 1);
        var nonce = wrapped.AsSpan(HeaderBytes, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagBytes);
        aes.Encrypt(
            nonce,
            dataKey,
            wrapped.AsSpan(HeaderBytes + NonceBytes, KeyBytes),
            wrapped.AsSpan(HeaderBytes + NonceBytes + KeyBytes, TagBytes),
            wrapped.AsSpan(0, HeaderBytes));
        return wrapped;
    }

    /// <summary>Decrypts a data key wrapped by <see cref="Wrap"/>; the caller should zero it after use.</summary>
    /// <exception cref="ArtifactKeyException">Wrapped under another master key, malformed, or damaged.</exception>
    public byte[] Unwrap(ReadOnlySpan<byte> wrapped)
    {
        var wrappedBy = KeyIdOf(wrapped)
            ?? throw new ArtifactKeyException(
                $"the wrapped data key is malformed ({wrapped.Length} bytes; expected {WrappedBytes} bytes beginning with format version {WrapVersion}).");
        if (wrappedBy != KeyId)
        {
            throw new ArtifactKeyException(
                $"the master key does not open this artifact's data key (key id {wrappedBy}; the configured master key has key id {KeyId}).");
        }

        var dataKey = new byte[KeyBytes];
        try
        {
            using var aes = new AesGcm(_key, TagBytes);
            aes.Decrypt(
                wrapped.Slice(HeaderBytes, NonceBytes),
                wrapped.Slice(HeaderBytes + NonceBytes, KeyBytes),
                wrapped.Slice(HeaderBytes + NonceBytes + KeyBytes, TagBytes),
                dataKey,
                wrapped[..HeaderBytes]);
        }
        catch (AuthenticationTagMismatchException e)
        {
            throw new ArtifactKeyException(
                $"the wrapped data key (key id {wrappedBy}) fails authentication under the master key: it is damaged.", e);
        }

        return dataKey;
    }

    /// <summary>The key id a wrapped data key names, or null when it is not a wrapped key of a known version.</summary>
    internal static string? KeyIdOf(ReadOnlySpan<byte> wrapped) =>
        wrapped.Length == WrappedBytes && wrapped[0] == WrapVersion ? Convert.ToHexStringLower(wrapped.Slice(1, IdBytes)) : null;

    /// <summary>An 8-byte id for a key: the start of SHA-256 over a label and the key, so ids of different kinds never collide.</summary>
    internal static byte[] IdOf(string label, ReadOnlySpan<byte> key)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.ASCII.GetBytes(label));
        hash.AppendData(key);
        return hash.GetHashAndReset()[..IdBytes];
    }
}
