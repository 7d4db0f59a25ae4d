using Quiver.Core.Registry;
using Quiver.Core.Storage;

namespace Quiver.Core.Lifecycle;

/// <summary>
/// This server's artifact store with its master key, and the shared copy in the registry database when there is
/// one (PostgreSQL): pushes go to both, a replica missing a file fetches it from the shared copy. The key is read
/// again when a version names a key id the current key does not have, so <c>quiver keys rotate</c> needs no restart.
/// </summary>
public sealed class ArtifactVault
{
    private readonly Func<MasterKey?> _loadKey;
    private readonly IArtifactBlobStore? _shared;
    private readonly Lock _keyLock = new();
    private ArtifactStore _store;

    /// <param name="root">The artifact folder.</param>
    /// <param name="loadKey">Reads the master key from where it is configured; null when encryption is off.</param>
    /// <param name="shared">The registry's shared artifact copy, or null.</param>
    public ArtifactVault(string root, Func<MasterKey?> loadKey, IArtifactBlobStore? shared)
    {
        _loadKey = loadKey;
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
    public Task<StoredArtifact> PutAsync(Stream content, CancellationToken cancellationToken) =>
        StoreFor(Key is null ? null : TryLoadKey()?.KeyId).PutAsync(content, cancellationToken);

    /// <summary>Deletes an artifact file no version records.</summary>
    public void Delete(string sha256) => _store.Delete(sha256);

    /// <summary>Copies a stored artifact file to the shared copy, so other replicas can fetch it. No-op without one.</summary>
    public async Task ShareAsync(string sha256, bool encrypted, CancellationToken cancellationToken)
    {
        if (_shared is null)
        {
            return;
        }

        await using FileStream file = File.OpenRead(_store.PathOf(sha256));
        await _shared.StoreArtifactAsync(sha256, file, encrypted, cancellationToken);
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

    // A key id the current key lacks means the key was rotated since it was read: read it again.
    private ArtifactStore StoreFor(string? keyId)
    {
        lock (_keyLock)
        {
            if (keyId is not null && Key?.KeyId != keyId && TryLoadKey() is { } reloaded && reloaded.KeyId != Key?.KeyId)
            {
                _store = new ArtifactStore(_store.Root, reloaded);
                Key = reloaded;
            }

            return _store;
        }
    }

    // A key file being replaced may be unreadable for a moment; the read that needed it then fails naming the key id.
    private MasterKey? TryLoadKey()
    {
        try
        {
            return _loadKey();
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }
}
