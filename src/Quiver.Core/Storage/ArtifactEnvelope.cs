using System.Security.Cryptography;

namespace Quiver.Core.Storage;

/// <summary>
/// The on-disk form of an encrypted artifact. Every artifact has its own random data key, used for this one
/// encryption only (so a random nonce can never repeat under it); the data key, wrapped by the master key, is kept
/// by the registry, never in the file, which is why rotating the master key leaves files untouched.
/// </summary>
/// <remarks>
/// Format "QVR1", 40 bytes longer than the model:
/// <code>
///   [0..4)          magic "QVR1"
///   [4..12)         data key id: the start of SHA-256("quiver data key id" + data key); tells a wrapped key that
///                   belongs to another artifact apart from a damaged file, and survives master-key rotation
///   [12..24)        AES-GCM nonce, random
///   [24..24+n)      the n-byte ONNX model, encrypted with AES-256-GCM under the data key
///   [24+n..40+n)    AES-GCM tag; the associated data is bytes [0..24), so the header cannot be altered either
/// </code>
/// </remarks>
internal static class ArtifactEnvelope
{
    /// <summary>Bytes an encrypted file adds to the model: header and tag.</summary>
    public const int OverheadBytes = HeaderBytes + TagBytes;

    private const int IdBytes = 8;
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private const int HeaderBytes = 4 + IdBytes + NonceBytes;

    private static ReadOnlySpan<byte> Magic => "QVR1"u8;

    /// <summary>Whether a file (or its first bytes) starts like an encrypted artifact.</summary>
    public static bool IsEnvelope(ReadOnlySpan<byte> file) => file.StartsWith(Magic);

    /// <summary>Encrypts a model under a fresh data key, which must not be used again.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> dataKey)
    {
        var file = new byte[plaintext.Length + OverheadBytes];
        Magic.CopyTo(file);
        MasterKey.IdOf("quiver data key id", dataKey).CopyTo(file, Magic.Length);
        var nonce = file.AsSpan(Magic.Length + IdBytes, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(dataKey, TagBytes);
        aes.Encrypt(
            nonce,
            plaintext,
            file.AsSpan(HeaderBytes, plaintext.Length),
            file.AsSpan(HeaderBytes + plaintext.Length),
            file.AsSpan(0, HeaderBytes));
        return file;
    }

    /// <summary>Decrypts an encrypted artifact file.</summary>
    /// <exception cref="ArtifactIntegrityException">The file is not an envelope, or fails authentication.</exception>
    /// <exception cref="ArtifactKeyException">The data key is another artifact's.</exception>
    public static byte[] Open(ReadOnlySpan<byte> file, ReadOnlySpan<byte> dataKey, string sha256)
    {
        if (file.Length < OverheadBytes || !IsEnvelope(file))
        {
            throw new ArtifactIntegrityException(sha256, "the file has no QVR1 header, so it is not the encrypted artifact the registry expects");
        }

        var fileKeyId = Convert.ToHexStringLower(file.Slice(Magic.Length, IdBytes));
        var givenKeyId = Convert.ToHexStringLower(MasterKey.IdOf("quiver data key id", dataKey));
        if (fileKeyId != givenKeyId)
        {
            throw new ArtifactKeyException(
                $"Artifact {sha256}: the wrapped data key (data key id {givenKeyId}) belongs to another artifact; this file was sealed with data key id {fileKeyId}.");
        }

        var length = file.Length - OverheadBytes;
        var plaintext = new byte[length];
        try
        {
            using var aes = new AesGcm(dataKey, TagBytes);
            aes.Decrypt(
                file.Slice(Magic.Length + IdBytes, NonceBytes),
                file.Slice(HeaderBytes, length),
                file[(HeaderBytes + length)..],
                plaintext,
                file[..HeaderBytes]);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new ArtifactIntegrityException(sha256, "the ciphertext fails authentication: the file was changed or damaged");
        }

        return plaintext;
    }
}
