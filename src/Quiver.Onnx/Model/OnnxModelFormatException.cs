namespace Quiver.Onnx.Model;

/// <summary>A file or buffer that is not a readable ONNX model; the message names the source.</summary>
public sealed class OnnxModelFormatException : Exception
{
    /// <summary>Creates the exception for a source (a path, or a description of a buffer).</summary>
    public OnnxModelFormatException(string source, string reason, Exception? innerException = null)
        : base($"'{source}' is not a valid ONNX model: {reason}", innerException)
    {
        Origin = source;
    }

    /// <summary>The path of the file, or a description of the buffer, that failed to load.</summary>
    public string Origin { get; }
}
