namespace Quiver.Onnx;

/// <summary>An ONNX Runtime call failed; carries ORT's error code and message.</summary>
public sealed class OnnxRuntimeException(OrtErrorCode errorCode, string message)
    : Exception($"[{errorCode}] {message}")
{
    /// <summary>ORT's error code.</summary>
    public OrtErrorCode ErrorCode { get; } = errorCode;

    /// <summary>ORT's message, without the code prefix.</summary>
    public string OrtMessage { get; } = message;
}
