namespace Quiver.Core.Storage;

/// <summary>A stored artifact whose content no longer matches its name; the version must not load.</summary>
public sealed class ArtifactIntegrityException(string sha256, string finding)
    : ArtifactException($"Artifact {sha256} is refused: its content does not match its sha256 ({finding}).");
