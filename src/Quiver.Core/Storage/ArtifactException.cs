namespace Quiver.Core.Storage;

/// <summary>An artifact that cannot be stored or loaded; the message says which and why.</summary>
public abstract class ArtifactException(string message, Exception? innerException = null)
    : Exception(message, innerException);
