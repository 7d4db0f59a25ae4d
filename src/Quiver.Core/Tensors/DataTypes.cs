using Quiver.Onnx;

namespace Quiver.Core.Tensors;

/// <summary>Protocol names, element sizes and ONNX equivalents of <see cref="DataType"/>.</summary>
public static class DataTypes
{
    private static readonly string[] s_names =
        ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "BF16", "FP32", "FP64", "BYTES"];

    private static readonly int[] s_sizes = [1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 2, 4, 8, 0];

    private static readonly TensorElementType[] s_onnx =
    [
        TensorElementType.Bool, TensorElementType.UInt8, TensorElementType.UInt16, TensorElementType.UInt32,
        TensorElementType.UInt64, TensorElementType.Int8, TensorElementType.Int16, TensorElementType.Int32,
        TensorElementType.Int64, TensorElementType.Float16, TensorElementType.BFloat16, TensorElementType.Float,
        TensorElementType.Double, TensorElementType.String,
    ];

    /// <summary>All protocol names, for error messages ("expected one of ...").</summary>
    public static IReadOnlyList<string> Names => s_names;

    /// <summary>The protocol name, e.g. "FP32".</summary>
    public static string Name(this DataType type) => s_names[(int)type];

    /// <summary>Bytes per element; 0 for BYTES, whose elements vary in length.</summary>
    public static int ElementSize(this DataType type) => s_sizes[(int)type];

    /// <summary>Parses a protocol name (case-sensitive, as the protocol spells it).</summary>
    public static bool TryParse(string name, out DataType type)
    {
        int index = Array.IndexOf(s_names, name);
        type = (DataType)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>The ONNX element type that holds this datatype.</summary>
    public static TensorElementType ToOnnx(this DataType type) => s_onnx[(int)type];

    /// <summary>The protocol datatype of an ONNX element type; false for types the protocol cannot carry.</summary>
    public static bool TryFromOnnx(TensorElementType onnxType, out DataType type)
    {
        int index = Array.IndexOf(s_onnx, onnxType);
        type = (DataType)Math.Max(index, 0);
        return index >= 0;
    }
}
