namespace Quiver.Core.Tensors;

/// <summary>What a model declares for one input or output: name, datatype and shape (-1 = any size).</summary>
public sealed record TensorSpec(string Name, DataType DataType, long[] Shape);
