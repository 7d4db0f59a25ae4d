namespace Quiver.Core.Storage;

/// <summary>A data key that the master key cannot open, or that belongs to another artifact; nothing was decrypted.</summary>
public sealed class ArtifactKeyException(string message, Exception? innerException = null)
    : ArtifactException(message, innerException);
