namespace Quiver.Core.Storage;

/// <summary>An upload refused at store time (empty, not ONNX, cut short, too large, external data); nothing was stored.</summary>
public sealed class ArtifactRejectedException(string message, Exception? innerException = null)
    : ArtifactException(message, innerException);
