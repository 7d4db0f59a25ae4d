using Quiver.Core.Registry;
using Quiver.Core.Storage;

namespace Quiver.Core.Lifecycle;

/// <summary>
/// This server's artifact store with its master key, and the shared copy in the registry database when there is
/// one (PostgreSQL): pushes go to both, a replica missing a file fetches it from the shared copy. The key is read
/// again when a version names a key id the current key does not have, so <c>quiver keys rotate</c> needs no restart;
/// while a rotation runs (data keys already re-wrapped, the key file not yet replaced) the pending new key opens them.
/// </summary>
public sealed class ArtifactVault
{
    /// <summary>
    /// How long an upload's temporary file may go unwritten before <see cref="RemoveAbandonedUploads"/> takes it for
    /// a crashed push's: 15 minutes, far beyond the pause of a live upload (files are written as they arrive).
    /// </summary>
    public static readonly TimeSpan AbandonedUploadAge = TimeSpan.FromMinutes(15);

    private readonly Func<MasterKey?> _loadKey;
    private readonly Func<MasterKey?>? _loadPendingKey;
    private readonly IArtifactBlobStore? _shared;
    private readonly Lock _keyLock = new();
    private ArtifactStore _store;

    /// <param name="root">The artifact folder.</param>
    /// <param name="loadKey">Reads the master key from where it is configured; null when encryption is off.</param>
    /// <param name="shared">The registry's shared artifact copy, or null.</param>
    /// <param name="loadPendingKey">
    /// Reads the key a rotation in progress moves to (<see cref="MasterKey.PendingPathFor"/>), null when none is pending;
    /// null when the key cannot be rotated in place (it comes from an environment variable).
    /// </param>
    public ArtifactVault(string root, Func<MasterKey?> loadKey, IArtifactBlobStore? shared, Func<MasterKey?>? loadPendingKey = null)
    {
        _loadKey = loadKey;
        _loadPendingKey = loadPendingKey;
        _shared = shared;
        Key = loadKey();
        _store = new ArtifactStore(root, Key);
    }

    /// <summary>The master key new artifacts are encrypted under; null when encryption is off.</summary>
    public MasterKey? Key { get; private set; }

    /// <summary>The store's folder.</summary>
    public string Root => _store.Root;

    /// <summary>Validates and stores an uploaded model (encrypted when a key is configured); see <see cref="ArtifactStore.PutAsync"/>.</summary>
    /// <remarks>The key is read again first, so a push right after a rotation is wrapped under the new key.</remarks>
    /// <param name="content">The upload.</param>
    /// <param name="isUnrecorded">Whether no version records an artifact; an encrypted file none records is replaced (see <see cref="ArtifactStore.PutAsync(Stream, Func{string, CancellationToken, Task{bool}}, CancellationToken)"/>).</param>
    /// <param name="cancellationToken">Cancels the upload.</param>
    public Task<StoredArtifact> PutAsync(Stream content, Func<string, CancellationToken, Task<bool>>? isUnrecorded, CancellationToken cancellationToken) =>
        StoreFor(Key is null ? null : TryLoad(_loadKey)?.KeyId).PutAsync(content, isUnrecorded, cancellationToken);

    /// <summary>
    /// Held by a push from storing its artifact until its version is registered, so that no other push in this process
    /// takes the stored file for one a crash left unrecorded.
    /// </summary>
    internal SemaphoreSlim Publishing { get; } = new(1, 1);

    /// <summary>Deletes an artifact file no version records.</summary>
    public void Delete(string sha256) => _store.Delete(sha256);

    /// <summary>Deletes the temporary files of uploads a crash cut short (idle longer than <see cref="AbandonedUploadAge"/>); returns the count.</summary>
    public int RemoveAbandonedUploads() => _store.RemoveAbandonedTemporaryFiles(AbandonedUploadAge);

    /// <summary>
    /// Copies a stored artifact file to the shared copy, so other replicas can fetch it. No-op without one. With
    /// <paramref name="replace"/>, a shared copy already there (of a file no version recorded) is replaced.
    /// </summary>
    public async Task ShareAsync(string sha256, bool encrypted, bool replace, CancellationToken cancellationToken)
    {
        if (_shared is null)
        {
            return;
        }

        await using FileStream file = File.OpenRead(_store.PathOf(sha256));
        if (replace)
        {
            await _shared.ReplaceArtifactAsync(sha256, file, encrypted, cancellationToken);
        }
        else
        {
            await _shared.StoreArtifactAsync(sha256, file, encrypted, cancellationToken);
        }
    }

    /// <summary>
    /// A version's model bytes, decrypted in memory and checked against its sha256; fetched from the shared copy first
    /// when this server does not have the file. Throws the <see cref="ArtifactException"/> kinds and <see cref="RegistryException"/>.
    /// </summary>
    public async Task<byte[]> ReadAsync(RegisteredVersion version, CancellationToken cancellationToken)
    {
        ArtifactStore store = StoreFor(version.KeyId);
        if (_shared is not null && !File.Exists(store.PathOf(version.Sha256)))
        {
            await using Stream? copy = await _shared.OpenArtifactAsync(version.Sha256, cancellationToken);
            if (copy is not null)
            {
                await store.ImportFileAsync(version.Sha256, copy, cancellationToken);
            }
        }

        return await store.ReadVerifiedAsync(version.Sha256, version.WrappedDataKey, cancellationToken);
    }

    // A key id the current key lacks means the key was rotated since it was read: read it again. Still lacking it, a
    // rotation is between its steps (versions re-wrapped, key file not yet replaced), and the pending key opens them.
    private ArtifactStore StoreFor(string? keyId)
    {
        lock (_keyLock)
        {
            if (keyId is null || Key?.KeyId == keyId)
            {
                return _store;
            }

            if (TryLoad(_loadKey) is { } reloaded && reloaded.KeyId != Key?.KeyId)
            {
                _store = new ArtifactStore(_store.Root, reloaded);
                Key = reloaded;
            }

            if (Key?.KeyId != keyId && _loadPendingKey is not null && TryLoad(_loadPendingKey) is { } pending && pending.KeyId == keyId)
            {
                return new ArtifactStore(_store.Root, pending);
            }

            return _store;
        }
    }

    // A key file being replaced may be unreadable for a moment; the read that needed it then fails naming the key id.
    private static MasterKey? TryLoad(Func<MasterKey?> load)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }
}
