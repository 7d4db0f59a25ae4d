using Google.Protobuf;
using Quiver.Onnx.Model.Proto;
using AttributeType = Quiver.Onnx.Model.Proto.AttributeProto.Types.AttributeType;

namespace Quiver.Onnx.Model;

/// <summary>Creates node attributes with their type discriminator set, as IR version 2 and later require.</summary>
public static class OnnxAttribute
{
    /// <summary>An integer attribute (also used for booleans such as Gemm's transB).</summary>
    public static AttributeProto Int(string name, long value) => New(name, AttributeType.Int, a => a.I = value);

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float value) => New(name, AttributeType.Float, a => a.F = value);

    /// <summary>A UTF-8 string attribute.</summary>
    public static AttributeProto String(string name, string value) =>
        New(name, AttributeType.String, a => a.S = ByteString.CopyFromUtf8(value));

    /// <summary>A tensor attribute (e.g. Constant's value).</summary>
    public static AttributeProto Tensor(string name, TensorProto value) => New(name, AttributeType.Tensor, a => a.T = value);

    /// <summary>A subgraph attribute (e.g. If's branches).</summary>
    public static AttributeProto Graph(string name, GraphProto value) => New(name, AttributeType.Graph, a => a.G = value);

    /// <summary>A list-of-integers attribute.</summary>
    public static AttributeProto Ints(string name, params long[] values) => New(name, AttributeType.Ints, a => a.Ints.AddRange(values));

    /// <summary>A list-of-floats attribute.</summary>
    public static AttributeProto Floats(string name, params float[] values) => New(name, AttributeType.Floats, a => a.Floats.AddRange(values));

    /// <summary>A list-of-strings attribute.</summary>
    public static AttributeProto Strings(string name, params string[] values) =>
        New(name, AttributeType.Strings, a => a.Strings.AddRange(values.Select(ByteString.CopyFromUtf8)));

    /// <summary>A list-of-tensors attribute.</summary>
    public static AttributeProto Tensors(string name, params TensorProto[] values) =>
        New(name, AttributeType.Tensors, a => a.Tensors.AddRange(values));

    private static AttributeProto New(string name, AttributeType type, Action<AttributeProto> setValue)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var attribute = new AttributeProto { Name = name, Type = type };
        setValue(attribute);
        return attribute;
    }
}
