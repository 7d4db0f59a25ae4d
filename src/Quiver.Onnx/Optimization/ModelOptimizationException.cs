namespace Quiver.Onnx.Optimization;

/// <summary>A model a transform cannot rewrite (weights in external files, a malformed graph); the message says why.</summary>
public sealed class ModelOptimizationException(string message, Exception? innerException = null) : Exception(message, innerException);
