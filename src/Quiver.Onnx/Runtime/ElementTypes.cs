namespace Quiver.Onnx;

/// <summary>Sizes and .NET equivalents of the element types the binding carries.</summary>
public static class ElementTypes
{
    /// <summary>Bytes per element; 0 for strings and for types the binding does not carry.</summary>
    public static int SizeOf(TensorElementType type) => type switch
    {
        TensorElementType.Bool or TensorElementType.UInt8 or TensorElementType.Int8 => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        TensorElementType.UInt32 or TensorElementType.Int32 or TensorElementType.Float => 4,
        TensorElementType.UInt64 or TensorElementType.Int64 or TensorElementType.Double => 8,
        _ => 0,
    };

    /// <summary>The element type a .NET type stands for; BFLOAT16 has no .NET type and goes through bytes.</summary>
    public static TensorElementType Of<T>() where T : unmanaged => default(T) switch
    {
        float => TensorElementType.Float,
        double => TensorElementType.Double,
        Half => TensorElementType.Float16,
        bool => TensorElementType.Bool,
        byte => TensorElementType.UInt8,
        sbyte => TensorElementType.Int8,
        ushort => TensorElementType.UInt16,
        short => TensorElementType.Int16,
        uint => TensorElementType.UInt32,
        int => TensorElementType.Int32,
        ulong => TensorElementType.UInt64,
        long => TensorElementType.Int64,
        _ => throw new ArgumentException($"{typeof(T).Name} is not a tensor element type."),
    };
}
