namespace Quiver.Core.Storage;

/// <summary>An artifact the registry names but the store does not hold.</summary>
public sealed class ArtifactNotFoundException(string sha256, string path, Exception? innerException = null)
    : ArtifactException($"Artifact {sha256} is not in the store (no file at '{path}').", innerException);
