namespace Quiver.Core.Registry;

/// <summary>
/// Artifact bytes kept in the registry database, addressed by SHA-256, so any replica can fetch and cache them.
/// Only <see cref="PostgresModelRegistry"/> implements it today (SQLite deployments keep artifacts on disk),
/// but it is the contract replicas fetch through, so it stays apart from <see cref="IModelRegistry"/>.
/// </summary>
public interface IArtifactBlobStore
{
    /// <summary>
    /// Stores the bytes of an artifact file as the artifact store keeps it; false when already stored (the content is
    /// then not read). Plaintext is checked to hash to <paramref name="sha256"/>; an encrypted file (the name is its
    /// plaintext's hash) cannot be, and is checked by its reader after decryption, as on every load.
    /// </summary>
    Task<bool> StoreArtifactAsync(string sha256, Stream content, bool encrypted = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores the bytes of an artifact file in place of any copy already stored: for an encrypted file that no version
    /// records (a push crashed before registering it), whose stored copy nothing could ever open.
    /// </summary>
    Task ReplaceArtifactAsync(string sha256, Stream content, bool encrypted, CancellationToken cancellationToken = default);

    /// <summary>A read-only stream over the stored bytes, fetched a chunk at a time; null when not stored.</summary>
    Task<Stream?> OpenArtifactAsync(string sha256, CancellationToken cancellationToken = default);
}
