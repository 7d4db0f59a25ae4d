using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>
/// The element type of every value in a graph (not its subgraphs), inferred forward from the inputs, the
/// initializers and a table of op rules: most ops output their first input's type; the exceptions that change type
/// (Cast, Shape, comparisons, quantization, ...) are listed. A value whose type cannot be inferred is an error, so a
/// transform never guesses.
/// </summary>
internal static class ElementTypeInference
{
    private const int Float = (int)TensorElementType.Float;
    private const int Int64 = (int)TensorElementType.Int64;
    private const int Int32 = (int)TensorElementType.Int32;
    private const int Bool = (int)TensorElementType.Bool;
    private const int UInt8 = (int)TensorElementType.UInt8;

    private static readonly HashSet<string> s_int64Outputs = ["Shape", "Size", "NonZero", "ArgMax", "ArgMin", "NonMaxSuppression"];

    private static readonly HashSet<string> s_boolOutputs =
        ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "IsNaN", "IsInf", "Not", "And", "Or", "Xor"];

    /// <summary>Every value's element type by name.</summary>
    /// <exception cref="ModelOptimizationException">A node's output type cannot be inferred.</exception>
    public static Dictionary<string, int> Infer(GraphProto graph)
    {
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (TensorProto initializer in graph.Initializer)
        {
            types[initializer.Name] = initializer.DataType;
        }

        foreach (ValueInfoProto value in graph.Input.Concat(graph.ValueInfo).Concat(graph.Output))
        {
            if (value.Type?.TensorType is { ElemType: > 0 } tensor)
            {
                types[value.Name] = tensor.ElemType;
            }
        }

        foreach (NodeProto node in graph.Node)
        {
            int[] inputs = node.Input.Select(i => i.Length > 0 && types.TryGetValue(i, out int t) ? t : 0).ToArray();
            for (int o = 0; o < node.Output.Count; o++)
            {
                if (node.Output[o].Length == 0 || types.ContainsKey(node.Output[o]))
                {
                    continue; // declared in value_info or as a graph output: the declaration wins
                }

                int type = OutputType(node, o, inputs);
                if (type == 0)
                {
                    throw new ModelOptimizationException(
                        $"cannot tell the element type of '{node.Output[o]}' produced by {node.OpType} node '{GraphNames.Describe(node)}'; declare it in value_info.");
                }

                types[node.Output[o]] = type;
            }
        }

        return types;
    }

    private static int OutputType(NodeProto node, int output, int[] inputs)
    {
        int First() => inputs.Length > 0 ? inputs[0] : 0;
        int Input(int i) => i < inputs.Length ? inputs[i] : 0;
        int DType(int fallback) => Attribute(node, "dtype")?.I is { } d and > 0 ? (int)d : fallback;

        if (node.Domain is not ("" or "ai.onnx"))
        {
            return 0;
        }

        return node.OpType switch
        {
            "Cast" => (int)(Attribute(node, "to")?.I ?? 0),
            "CastLike" => Input(1),
            _ when s_int64Outputs.Contains(node.OpType) => Int64,
            _ when s_boolOutputs.Contains(node.OpType) => Bool,
            "TopK" or "MaxPool" => output == 0 ? First() : Int64,
            "Unique" => output == 0 ? First() : Int64,
            "Dropout" => output == 0 ? First() : Bool,
            "Constant" => ConstantType(node),
            "ConstantOfShape" => Attribute(node, "value")?.T is { } value ? value.DataType : Float,
            "DequantizeLinear" => Input(1) is > 0 and var scale ? scale : Float,
            "QuantizeLinear" => Input(2) is > 0 and var zeroPoint ? zeroPoint : UInt8,
            "DynamicQuantizeLinear" => output == 1 ? Float : UInt8,
            "MatMulInteger" or "ConvInteger" => Int32,
            "Where" => Input(1),
            "OneHot" => Input(2),
            "EyeLike" or "RandomNormalLike" or "RandomUniformLike" or "Bernoulli" => DType(First()),
            "RandomNormal" or "RandomUniform" => DType(Float),
            "Multinomial" => DType(Int32),
            _ => First(),
        };
    }

    private static int ConstantType(NodeProto node)
    {
        foreach (AttributeProto attribute in node.Attribute)
        {
            switch (attribute.Name)
            {
                case "value": return attribute.T.DataType;
                case "value_float" or "value_floats": return Float;
                case "value_int" or "value_ints": return Int64;
                case "value_string" or "value_strings": return (int)TensorElementType.String;
            }
        }

        return 0;
    }

    internal static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);
}
