using System.Buffers;
using System.Security.Cryptography;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Core.Storage;

/// <summary>
/// Model files named by the SHA-256 of their content, at <c>&lt;root&gt;/&lt;aa&gt;/&lt;sha256&gt;</c>. A put validates the
/// model and appears atomically or not at all; every read checks the content against its name. With a master key,
/// new artifacts are stored encrypted (<see cref="ArtifactEnvelope"/>) and their plaintext never touches the disk.
/// </summary>
/// <remarks>
/// An artifact is one file, so models that keep weights in external data files are refused rather than stored
/// without them. Stores hold no state besides their folder and key: build a new one to change the key.
/// </remarks>
public sealed class ArtifactStore
{
    /// <summary>Default bound on an encrypted upload: 1 GiB, because encryption happens in memory (about twice the model's size at peak).</summary>
    public const long DefaultMaxEncryptedBytes = 1L << 30;

    /// <summary>The largest model stored: just under 2 GiB, the largest .NET byte array (it is parsed and loaded from one) and within protobuf's limit.</summary>
    public const long MaxArtifactBytes = 0x7FFFFFC7;

    /// <summary>The folder, under the root, holding uploads in progress (files ending in ".part").</summary>
    public const string TemporaryFolderName = ".tmp";

    /// <summary>The file, in the root, that puts lock while they commit; it stays, empty.</summary>
    public const string LockFileName = ".lock";

    private const string TemporarySuffix = ".part";

    // 3,000 tries 10 ms apart: a commit holds the lock for one rename, so only a hung process keeps it 30 s.
    private const int LockAttempts = 3000;
    private static readonly TimeSpan s_lockRetryDelay = TimeSpan.FromMilliseconds(10);
    private const int CopyBufferBytes = 81920;

    private readonly string _temporaryFolder;
    private readonly MasterKey? _key;
    private readonly long _maxEncryptedBytes;

    /// <summary>Opens (creating if needed) a store; with <paramref name="key"/>, new artifacts are encrypted under it.</summary>
    /// <param name="root">The store's folder, on one file system (renames must be atomic).</param>
    /// <param name="key">The master key, or null to store new artifacts in plaintext.</param>
    /// <param name="maxEncryptedBytes">Bound on an encrypted upload; defaults to <see cref="DefaultMaxEncryptedBytes"/>.</param>
    public ArtifactStore(string root, MasterKey? key, long maxEncryptedBytes = DefaultMaxEncryptedBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxEncryptedBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxEncryptedBytes, Array.MaxLength - ArtifactEnvelope.OverheadBytes);
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
        _temporaryFolder = Path.Combine(Root, TemporaryFolderName);
        _key = key;
        _maxEncryptedBytes = maxEncryptedBytes;
    }

    /// <summary>The store's folder, as a full path.</summary>
    public string Root { get; }

    /// <summary>The file an artifact is (or would be) stored in.</summary>
    /// <exception cref="ArgumentException"><paramref name="sha256"/> is not 64 lowercase hex digits.</exception>
    public string PathOf(string sha256)
    {
        // The name becomes a path: anything but a sha256 (say "../x") must never reach the file system.
        if (sha256 is not { Length: 64 } || !sha256.All(char.IsAsciiHexDigitLower))
        {
            throw new ArgumentException($"'{sha256}' is not a sha256 (64 lowercase hex digits).", nameof(sha256));
        }

        return Path.Combine(Root, sha256[..2], sha256);
    }

    /// <summary>
    /// Stores an ONNX model read from <paramref name="content"/> and returns what the registry must record. Content
    /// already stored is not written again. Record the result only after this returns: the file exists by then.
    /// </summary>
    /// <exception cref="ArtifactRejectedException">Empty, not an ONNX model, cut short, too large, or with external data.</exception>
    public Task<StoredArtifact> PutAsync(Stream content, CancellationToken cancellationToken = default) =>
        PutAsync(content, isUnrecorded: null, cancellationToken);

    /// <summary>
    /// As <see cref="PutAsync(Stream, CancellationToken)"/>, and an encrypted file already stored for the same content is
    /// replaced when <paramref name="isUnrecorded"/> says no version records it: its data key died with the push that
    /// wrote it (a crash before registering), so nothing could ever open it. The caller must keep other puts of the
    /// same content from running meanwhile, or it could replace a file a concurrent push is about to record.
    /// </summary>
    public Task<StoredArtifact> PutAsync(Stream content, Func<string, CancellationToken, Task<bool>>? isUnrecorded, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        return _key is null ? PutPlaintextAsync(content, cancellationToken) : PutEncryptedAsync(content, _key, isUnrecorded, cancellationToken);
    }

    /// <summary>
    /// The plaintext model, decrypted in memory when <paramref name="wrappedKey"/> is given, after checking that its
    /// SHA-256 is <paramref name="sha256"/>; ready for <c>InferenceSession.FromBytes</c>.
    /// </summary>
    /// <exception cref="ArtifactNotFoundException">No such file.</exception>
    /// <exception cref="ArtifactIntegrityException">The content does not match the name.</exception>
    /// <exception cref="ArtifactKeyException">No master key, or one that does not open <paramref name="wrappedKey"/>.</exception>
    public async Task<byte[]> ReadVerifiedAsync(string sha256, byte[]? wrappedKey, CancellationToken cancellationToken = default)
    {
        var path = PathOf(sha256);
        byte[] file;
        try
        {
            file = await File.ReadAllBytesAsync(path, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArtifactNotFoundException(sha256, path, e);
        }

        var plaintext = wrappedKey is null ? file : Decrypt(sha256, file, wrappedKey);
        var found = Convert.ToHexStringLower(SHA256.HashData(plaintext));
        if (found != sha256)
        {
            var hint = wrappedKey is null && ArtifactEnvelope.IsEnvelope(file) ? "; the file looks encrypted, yet no wrapped key was given" : "";
            throw new ArtifactIntegrityException(sha256, $"found sha256 {found}{hint}");
        }

        return plaintext;
    }

    /// <summary>
    /// Stores an artifact file fetched from another store (a replica's copy from the shared registry), as it is:
    /// ciphertext stays ciphertext. Not checked here; <see cref="ReadVerifiedAsync"/> checks it on every read.
    /// </summary>
    public async Task ImportFileAsync(string sha256, Stream file, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var tempPath = NewTemporaryPath();
        try
        {
            await using (var temp = CreateTemporaryFile(tempPath))
            {
                await file.CopyToAsync(temp, cancellationToken);
                temp.Flush(flushToDisk: true);
            }

            await CommitAsync(tempPath, new StoredArtifact(sha256, 0, false, null, null), cancellationToken);
        }
        finally
        {
            DeleteIfPresent(tempPath);
        }
    }

    /// <summary>Deletes an artifact no registry row refers to any more; false when it was not there.</summary>
    public bool Delete(string sha256)
    {
        var path = PathOf(sha256);
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    /// <summary>
    /// Deletes uploads abandoned by a crash: temporary files not written for <paramref name="olderThan"/>. Call at
    /// startup; the age spares uploads another process (a CLI beside the server) has in progress. Returns the count.
    /// </summary>
    public int RemoveAbandonedTemporaryFiles(TimeSpan olderThan)
    {
        if (!Directory.Exists(_temporaryFolder))
        {
            return 0;
        }

        var cutoff = DateTime.UtcNow - olderThan;
        var removed = 0;
        foreach (var path in Directory.EnumerateFiles(_temporaryFolder, "*" + TemporarySuffix))
        {
            if (File.GetLastWriteTimeUtc(path) < cutoff)
            {
                try
                {
                    File.Delete(path);
                    removed++;
                }
                catch (IOException)
                {
                    // Gone already or in use: either way not ours to fight over.
                }
            }
        }

        return removed;
    }

    private async Task<StoredArtifact> PutPlaintextAsync(Stream content, CancellationToken cancellationToken)
    {
        var tempPath = NewTemporaryPath();
        try
        {
            string sha256;
            long size;
            await using (var file = CreateTemporaryFile(tempPath))
            {
                // Streamed to disk while hashing, so memory stays at one buffer however large the upload.
                (sha256, size) = await CopyHashingAsync(
                    content, file, MaxArtifactBytes, "the 2 GiB limit for a single-file ONNX model (protobuf's, and .NET's for one array)", cancellationToken);
                file.Flush(flushToDisk: true);
            }

            // Parsing needs the whole model in memory (about twice its size, briefly); the server holds it to load it anyway.
            Validate(await File.ReadAllBytesAsync(tempPath, cancellationToken));
            return await CommitAsync(
                tempPath, new StoredArtifact(sha256, size, Encrypted: false, KeyId: null, WrappedKey: null), cancellationToken);
        }
        finally
        {
            DeleteIfPresent(tempPath);
        }
    }

    private async Task<StoredArtifact> PutEncryptedAsync(
        Stream content, MasterKey key, Func<string, CancellationToken, Task<bool>>? isUnrecorded, CancellationToken cancellationToken)
    {
        // Encrypted artifacts are held in memory (plaintext and ciphertext, about twice the model) so that the plaintext
        // never reaches the disk; hence the size bound.
        const string limitReason = "the limit for encrypted artifacts, which are encrypted in memory";
        var remaining = content.CanSeek ? Math.Max(content.Length - content.Position, 0) : 0;
        if (remaining > _maxEncryptedBytes)
        {
            throw new ArtifactRejectedException($"The upload is larger than {_maxEncryptedBytes} bytes, {limitReason}.");
        }

        using var plaintext = new MemoryStream((int)remaining);
        var dataKey = RandomNumberGenerator.GetBytes(MasterKey.KeyBytes);
        var tempPath = NewTemporaryPath();
        try
        {
            var (sha256, size) = await CopyHashingAsync(
                content, plaintext, _maxEncryptedBytes, limitReason, cancellationToken);
            var model = plaintext.GetBuffer().AsMemory(0, (int)size);
            Validate(model.Span);
            var replace = false;
            if (File.Exists(PathOf(sha256)))
            {
                if (isUnrecorded is null || !await isUnrecorded(sha256, cancellationToken))
                {
                    return Existing(sha256);
                }

                replace = true;
            }

            var sealedFile = ArtifactEnvelope.Seal(model.Span, dataKey);
            await using (var file = CreateTemporaryFile(tempPath))
            {
                await file.WriteAsync(sealedFile, cancellationToken);
                file.Flush(flushToDisk: true);
            }

            return await CommitAsync(
                tempPath, new StoredArtifact(sha256, size, Encrypted: true, key.KeyId, key.Wrap(dataKey), ReplacedUnrecorded: replace), cancellationToken);
        }
        finally
        {
            // Best effort: buffers outgrown while reading a non-seekable stream are left to the garbage collector.
            CryptographicOperations.ZeroMemory(plaintext.GetBuffer());
            CryptographicOperations.ZeroMemory(dataKey);
            DeleteIfPresent(tempPath);
        }
    }

    private static void Validate(ReadOnlySpan<byte> content)
    {
        const string source = "the upload";
        if (content.IsEmpty)
        {
            throw new ArtifactRejectedException("The upload is empty (0 bytes); an ONNX model was expected.");
        }

        ModelProto model;
        try
        {
            model = OnnxModel.Parse(content, source);
        }
        catch (OnnxModelFormatException e)
        {
            throw new ArtifactRejectedException(e.Message, e);
        }

        // opset_import follows the graph in a serialized model, so a file cut right after the graph still parses.
        if (model.OpsetImport.Count == 0)
        {
            throw new ArtifactRejectedException(
                $"'{source}' is not a valid ONNX model: it imports no operator set (opset_import is empty), as when a file is cut short after its graph.");
        }

        var external = OnnxModel.ExternalDataReferences(model);
        if (external.Count > 0)
        {
            var listed = string.Join(", ", external.Select(r =>
                $"tensor '{r.Tensor}' in '{r.Location}'{(LeavesModelFolder(r.Location) ? " (outside the model's folder)" : "")}"));
            throw new ArtifactRejectedException(
                $"The model keeps tensor data in external files: {listed}. An artifact is a single file, so external data is refused; " +
                "save the model with its weights inside it (onnx.save_model(model, path, save_as_external_data=False)).");
        }
    }

    private static bool LeavesModelFolder(string location) =>
        location.Length == 0
        || Path.IsPathRooted(location)
        || location.Split('/', '\\').Contains("..");

    private static async Task<(string Sha256, long Size)> CopyHashingAsync(
        Stream source, Stream destination, long limit, string limitReason, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
        try
        {
            long size = 0;
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                size += read;
                if (size > limit)
                {
                    throw new ArtifactRejectedException($"The upload is larger than {limit} bytes, {limitReason}.");
                }

                hash.AppendData(buffer, 0, read);
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            return (Convert.ToHexStringLower(hash.GetHashAndReset()), size);
        }
        finally
        {
            // Cleared: the buffer held model bytes, plaintext of an encrypted artifact included.
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    private async Task<StoredArtifact> CommitAsync(string tempPath, StoredArtifact artifact, CancellationToken cancellationToken)
    {
        var path = PathOf(artifact.Sha256);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);

        // File.Move without overwrite checks for the target, then renames: two puts of the same content could both
        // succeed, the second replacing the first's file. Harmless in plaintext, fatal for an encrypted twin (the
        // wrapped key returned first would no longer open the file). So commits take turns under the store's lock.
        await using var storeLock = await LockAsync(cancellationToken);
        if (artifact.ReplacedUnrecorded)
        {
            File.Move(tempPath, path, overwrite: true);
            return artifact;
        }

        if (File.Exists(path))
        {
            return Existing(artifact.Sha256);
        }

        File.Move(tempPath, path);
        return artifact;
    }

    // An exclusive open of <root>/.lock; .NET backs FileShare.None with flock on Unix, so other processes on the same
    // store wait too. The file is never deleted: deleting a lock file lets two holders lock different inodes.
    private async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(Root, LockFileName);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (attempt < LockAttempts)
            {
                // Held by another commit, which takes a rename's time; a lasting failure ends with the last attempt.
                await Task.Delay(s_lockRetryDelay, cancellationToken);
            }
        }
    }

    private StoredArtifact Existing(string sha256)
    {
        var path = PathOf(sha256);
        Span<byte> start = stackalloc byte[4];
        long length;
        using (var file = File.OpenRead(path))
        {
            length = file.Length;
            start = start[..file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false)];
        }

        var encrypted = ArtifactEnvelope.IsEnvelope(start);
        var size = encrypted ? length - ArtifactEnvelope.OverheadBytes : length;
        return new StoredArtifact(sha256, size, encrypted, KeyId: null, WrappedKey: null, AlreadyStored: true);
    }

    private string NewTemporaryPath()
    {
        Directory.CreateDirectory(_temporaryFolder);
        return Path.Combine(_temporaryFolder, Guid.NewGuid().ToString("N") + TemporarySuffix);
    }

    private static FileStream CreateTemporaryFile(string path) =>
        new(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            Options = FileOptions.Asynchronous,
        });

    private static void DeleteIfPresent(string path)
    {
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }

    private byte[] Decrypt(string sha256, byte[] file, byte[] wrappedKey)
    {
        if (_key is null)
        {
            throw new ArtifactKeyException($"Artifact {sha256} is encrypted, but no master key is configured.");
        }

        byte[] dataKey;
        try
        {
            dataKey = _key.Unwrap(wrappedKey);
        }
        catch (ArtifactKeyException e)
        {
            throw new ArtifactKeyException($"Artifact {sha256}: {e.Message}", e);
        }

        try
        {
            return ArtifactEnvelope.Open(file, dataKey, sha256);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }
}
