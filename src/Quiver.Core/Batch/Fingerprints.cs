using System.Security.Cryptography;

namespace Quiver.Core.Batch;

/// <summary>Identifies an input file well enough to refuse resuming over a different one.</summary>
/// <param name="Length">Its size in bytes.</param>
/// <param name="Sample">SHA-256 over its first and last MiB (the whole file when smaller than 2 MiB).</param>
public sealed record InputFingerprint(long Length, string Sample)
{
    // Hashing a 10-million-row file in full would re-read gigabytes on every resume; head, tail and length
    // catch a replaced, appended-to, regenerated or truncated file, which is what happens in practice.
    private const int SampleBytes = 1 << 20;

    /// <summary>Fingerprints the file at <paramref name="path"/>.</summary>
    public static InputFingerprint Of(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = file.Length;
        byte[] buffer = new byte[SampleBytes];
        int read = file.ReadAtLeast(buffer, (int)Math.Min(SampleBytes, length), throwOnEndOfStream: false);
        hash.AppendData(buffer, 0, read);
        if (length > 2L * SampleBytes)
        {
            file.Position = length - SampleBytes;
            read = file.ReadAtLeast(buffer, SampleBytes, throwOnEndOfStream: false);
            hash.AppendData(buffer, 0, read);
        }
        else if (length > SampleBytes)
        {
            read = file.ReadAtLeast(buffer, (int)(length - SampleBytes), throwOnEndOfStream: false);
            hash.AppendData(buffer, 0, read);
        }

        return new InputFingerprint(length, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }
}

/// <summary>SHA-256 of whole files, for models.</summary>
public static class FileHash
{
    public static string Sha256(string path)
    {
        using FileStream file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }
}
