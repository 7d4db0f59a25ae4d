namespace Quiver.Onnx;

/// <summary>A tensor bound to a model input name.</summary>
public readonly record struct NamedTensor(string Name, TensorValue Value);
