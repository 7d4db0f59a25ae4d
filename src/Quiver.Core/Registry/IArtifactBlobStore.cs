namespace Quiver.Core.Registry;

/// <summary>
/// Artifact bytes kept in the registry database, addressed by SHA-256, so any replica can fetch and cache them.
/// Only <see cref="PostgresModelRegistry"/> implements it today (SQLite deployments keep artifacts on disk),
/// but it is the contract replicas fetch through, so it stays apart from <see cref="IModelRegistry"/>.
/// </summary>
public interface IArtifactBlobStore
{
    /// <summary>
    /// Stores the bytes, checking they hash to <paramref name="sha256"/>; false when they were already stored
    /// (the content is then not read).
    /// </summary>
    Task<bool> StoreArtifactAsync(string sha256, Stream content, CancellationToken cancellationToken = default);

    /// <summary>A read-only stream over the stored bytes, fetched a chunk at a time; null when not stored.</summary>
    Task<Stream?> OpenArtifactAsync(string sha256, CancellationToken cancellationToken = default);
}
