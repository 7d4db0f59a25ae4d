namespace Quiver.Onnx.Model;

/// <summary>A tensor whose elements live in a file beside the model rather than in it (ONNX external data).</summary>
/// <param name="Tensor">The tensor's name ("" when it has none, e.g. a node attribute's value).</param>
/// <param name="Location">The "location" entry: a path relative to the model's folder, or "" when the entry is missing.</param>
public sealed record ExternalDataReference(string Tensor, string Location);
