namespace Quiver.Onnx;

/// <summary>The descriptive fields of an ONNX model, as ONNX Runtime reads them from the file.</summary>
public sealed record ModelMetadata(
    string ProducerName,
    string GraphName,
    string GraphDescription,
    string Domain,
    string Description,
    long Version,
    IReadOnlyDictionary<string, string> CustomMetadata);
