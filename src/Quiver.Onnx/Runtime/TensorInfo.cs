namespace Quiver.Onnx;

/// <summary>
/// A model input or output as ONNX Runtime reports it. <see cref="Shape"/> holds -1 for every dimension that is
/// not fixed; <see cref="SymbolicDimensions"/> holds its name ("batch") or "" where the model gives none.
/// <see cref="ElementType"/> is <see cref="TensorElementType.Undefined"/> for values that are not tensors.
/// </summary>
public sealed record TensorInfo(string Name, TensorElementType ElementType, long[] Shape, string[] SymbolicDimensions);
