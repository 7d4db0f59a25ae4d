using System.Security.Cryptography;
using Quiver.Core.Security;
using Quiver.Core.Storage;

namespace Quiver.Core.Batch;

/// <summary>
/// Keeps a batch job's uploaded input encrypted at rest: sealed as it is received, in chunks of AES-256-GCM, and read
/// back through a seekable decrypting stream, so a job resumed from a checkpoint's offset decrypts only from there.
/// </summary>
/// <remarks>
/// File format "QVU1", 16 bytes per 64 KiB longer than the input:
/// <code>
///   [0..4)     magic "QVU1"
///   [4..12)    id of the upload key (so a file sealed under another key is named, not reported as damaged)
///   [12..44)   salt, random: the file's own key is HKDF-SHA256(upload key, salt), so chunk nonces never repeat under a key
///   then       chunks: up to 64 KiB of ciphertext and its 16-byte tag. Chunk i's nonce is i (big-endian, 12 bytes); its
///              associated data is the 44-byte header and one byte, 1 for the last chunk and 0 for the others
/// </code>
/// Every chunk but the last holds exactly 64 KiB; the last holds less (0 when the input is a multiple of 64 KiB), so a
/// file cut at a chunk border has a length no sealed file has, and one cut inside a chunk fails that chunk's tag. The
/// index in the nonce makes a moved chunk fail; the last-chunk flag makes a chunk from the middle fail as the last.
/// </remarks>
public sealed class UploadCipher
{
    /// <summary>The key file's size: 32 random bytes.</summary>
    public const int KeyBytes = 32;

    internal const int ChunkBytes = 64 * 1024;
    internal const int TagBytes = 16;
    internal const int NonceBytes = 12;
    internal const int HeaderBytes = 4 + IdBytes + SaltBytes;

    private const int IdBytes = 8;
    private const int SaltBytes = 32;

    private readonly byte[] _key;
    private readonly byte[] _id;

    private UploadCipher(byte[] key)
    {
        _key = key;
        _id = MasterKey.IdOf("quiver upload key id", key);
    }

    internal static ReadOnlySpan<byte> Magic => "QVU1"u8;

    /// <summary>Reads the key file, creating it with a random key (owner-only) the first time, so uploads outlive a restart.</summary>
    public static UploadCipher FromKeyFile(string path)
    {
        KeyFile.CreateIfMissing(path, KeyBytes);
        byte[] key = File.ReadAllBytes(path);
        return key.Length == KeyBytes ? new UploadCipher(key)
            : throw new FormatException($"the upload key file '{path}' holds {key.Length} bytes, not {KeyBytes}; remove it only when no uploaded job is unfinished.");
    }

    /// <summary>Encrypts <paramref name="source"/> to its end into <paramref name="destination"/>, one chunk in memory at a time.</summary>
    public async Task SealAsync(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        byte[] header = new byte[HeaderBytes];
        Magic.CopyTo(header);
        _id.CopyTo(header, Magic.Length);
        RandomNumberGenerator.Fill(header.AsSpan(Magic.Length + IdBytes));
        await destination.WriteAsync(header, cancellationToken);

        byte[] plain = new byte[ChunkBytes];
        byte[] sealedChunk = new byte[ChunkBytes + TagBytes];
        using AesGcm aes = FileCipher(header);
        try
        {
            for (long index = 0; ; index++)
            {
                int read = await source.ReadAtLeastAsync(plain, ChunkBytes, throwOnEndOfStream: false, cancellationToken);
                bool last = read < ChunkBytes;
                Seal(aes, header, index, last, plain.AsSpan(0, read), sealedChunk);
                await destination.WriteAsync(sealedChunk.AsMemory(0, read + TagBytes), cancellationToken);
                if (last)
                {
                    return;
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>
    /// A read-only, seekable stream of the plaintext of a sealed file; it owns <paramref name="file"/>. Reading a chunk
    /// that fails authentication throws <see cref="BatchException"/> naming <paramref name="path"/> and the chunk.
    /// </summary>
    public Stream Open(Stream file, string path)
    {
        byte[] header = new byte[HeaderBytes];
        if (file.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes || !header.AsSpan().StartsWith(Magic))
        {
            throw UploadReadStream.Damaged(path, "it has no QVU1 header, so it is not an upload this server sealed");
        }

        if (!header.AsSpan(Magic.Length, IdBytes).SequenceEqual(_id))
        {
            throw new BatchException(BatchErrorKind.Input,
                $"upload '{path}' was sealed under another upload key (key id {Convert.ToHexStringLower(header.AsSpan(Magic.Length, IdBytes))}; this server's is {Convert.ToHexStringLower(_id)}).");
        }

        return new UploadReadStream(file, path, header, FileCipher(header));
    }

    internal static void Nonce(long index, Span<byte> nonce)
    {
        nonce.Clear();
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(nonce[(NonceBytes - sizeof(long))..], index);
    }

    internal static void AssociatedData(ReadOnlySpan<byte> header, bool last, Span<byte> data)
    {
        header.CopyTo(data);
        data[HeaderBytes] = last ? (byte)1 : (byte)0;
    }

    private static void Seal(AesGcm aes, byte[] header, long index, bool last, ReadOnlySpan<byte> plain, Span<byte> output)
    {
        Span<byte> nonce = stackalloc byte[NonceBytes];
        Span<byte> associated = stackalloc byte[HeaderBytes + 1];
        Nonce(index, nonce);
        AssociatedData(header, last, associated);
        aes.Encrypt(nonce, plain, output[..plain.Length], output.Slice(plain.Length, TagBytes), associated);
    }

    private AesGcm FileCipher(byte[] header)
    {
        byte[] fileKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, _key, KeyBytes, header.AsSpan(Magic.Length + IdBytes, SaltBytes).ToArray(),
            "quiver batch upload v1"u8.ToArray());
        try
        {
            return new AesGcm(fileKey, TagBytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(fileKey);
        }
    }
}
