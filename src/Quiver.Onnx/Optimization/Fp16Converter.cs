using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>
/// Float16 conversion: float32 initializers become float16 and every node that computes on floats runs in float16,
/// except blocked ops, which keep float32 with Cast nodes around them. The graph's inputs and outputs stay float32:
/// a Cast after each float input and before each float output, so callers see the same interface.
/// </summary>
/// <remarks>
/// Meant for GPUs. ONNX Runtime's CPU provider has few float16 kernels and casts around the missing ones, so on a
/// CPU the float16 model is usually slower; the report measures it. Graphs with subgraphs (If, Loop, Scan) are refused:
/// a subgraph reads outer values whose types would change under it.
/// </remarks>
public static class Fp16Converter
{
    /// <summary>The largest finite float16, 65504; larger weights are clamped to it.</summary>
    public const float MaxHalf = 65504f;

    private const int Float = (int)TensorElementType.Float;
    private const int Float16 = (int)TensorElementType.Float16;

    // Ops whose float type lives in an attribute or is tied to another operand's type: they stay float32 whatever
    // the block-list says, and a Cast hands their result to the float16 graph (ONNX Runtime folds it for constants).
    private static readonly HashSet<string> s_alwaysFloat32 =
    [
        "Constant", "ConstantOfShape", "DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear",
        "EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
        "NonMaxSuppression", // boxes and scores are float32 only
    ];

    // Operands the specification types as float32 whatever the op computes in: they are cast back for a converted node.
    private static readonly Dictionary<string, int> s_float32Operands = new(StringComparer.Ordinal) { ["Resize"] = 2, ["Upsample"] = 1 };

    /// <summary>Returns the converted model; the input model is not modified.</summary>
    /// <exception cref="ModelOptimizationException">External data, subgraphs, or a value whose type cannot be inferred.</exception>
    public static OptimizationResult Convert(ModelProto model, Fp16Options? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new Fp16Options();
        ModelChecks.RequireEmbeddedWeights(model);
        if (model.Graph.Node.FirstOrDefault(n => n.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0)) is { } control)
        {
            throw new ModelOptimizationException(
                $"{control.OpType} node '{GraphNames.Describe(control)}' has a subgraph; float16 conversion does not rewrite control flow.");
        }

        ModelProto result = model.Clone();
        var converter = new Converter(result.Graph, options, ElementTypeInference.Infer(model.Graph));
        converter.Run();
        if (converter.Changed.Count == 0 && converter.ConvertedInitializers == 0)
        {
            return new OptimizationResult(model, [], converter.Skipped) { Warnings = converter.Warnings };
        }

        ModelChecks.RequireWellFormed(result.Graph, "float16 conversion");
        return new OptimizationResult(result, converter.Changed, converter.Skipped) { Warnings = converter.Warnings };
    }

    private sealed class Converter(GraphProto graph, Fp16Options options, Dictionary<string, int> types)
    {
        private readonly GraphNames _names = new(graph);

        // Each float value by original name → its name in float16 and in float32; whichever exists, the other is made
        // by a Cast when first needed.
        private readonly Dictionary<string, string> _half = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _single = new(StringComparer.Ordinal);
        private readonly HashSet<string> _outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        private readonly List<NodeProto> _nodes = [];

        public List<string> Changed { get; } = [];

        public List<SkippedNode> Skipped { get; } = [];

        public List<string> Warnings { get; } = [];

        public int ConvertedInitializers { get; private set; }

        public void Run()
        {
            var inputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            foreach (ValueInfoProto input in graph.Input.Where(i => IsFloat(i.Name)))
            {
                _single[input.Name] = input.Name;
            }

            ConvertInitializers(inputs);
            foreach (NodeProto node in graph.Node)
            {
                bool touchesFloat = node.Input.Concat(node.Output).Any(IsFloat);
                if (!touchesFloat)
                {
                    _nodes.Add(node);
                    continue;
                }

                string? keepReason = KeepReason(node);
                if (keepReason is null)
                {
                    Convert(node);
                    Changed.Add(GraphNames.Describe(node));
                }
                else
                {
                    Keep(node);
                    Skipped.Add(new SkippedNode(GraphNames.Describe(node), node.OpType, keepReason));
                }
            }

            // Every float graph output is float32 under its own name: a passthrough input, a kept node's output,
            // or the Cast appended after a converted node.
            graph.Node.Clear();
            graph.Node.AddRange(_nodes);
            UpdateValueInfo();
        }

        private string? KeepReason(NodeProto node)
        {
            if (node.Domain is not ("" or "ai.onnx"))
            {
                return $"domain '{node.Domain}' ops keep their types.";
            }

            if (s_alwaysFloat32.Contains(node.OpType))
            {
                return "its float type is fixed by an attribute or operand; its result is cast.";
            }

            if (options.BlockedNodes.Contains(node.Name))
            {
                return "blocked by name.";
            }

            return options.BlockedOpTypes.Contains(node.OpType) ? $"{node.OpType} is on the float32 block-list." : null;
        }

        private void Convert(NodeProto node)
        {
            int float32Operand = s_float32Operands.TryGetValue(node.OpType, out int index) ? index : -1;
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (IsFloat(node.Input[i]))
                {
                    node.Input[i] = i == float32Operand ? Single(node.Input[i]) : Half(node.Input[i]);
                }
            }

            if (node.OpType == "Cast" && ElementTypeInference.Attribute(node, "to") is { I: Float } to)
            {
                to.I = Float16;
            }

            var castsAfter = new List<NodeProto>();
            for (int o = 0; o < node.Output.Count; o++)
            {
                string name = node.Output[o];
                if (!IsFloat(name))
                {
                    continue;
                }

                if (_outputs.Contains(name))
                {
                    // A graph output keeps its name and float32: the node writes a float16 twin, cast back after it.
                    string twin = _names.Unique($"{name}_fp16");
                    node.Output[o] = twin;
                    _half[name] = twin;
                    _single[name] = name;
                    castsAfter.Add(CastNode(twin, name, Float));
                }
                else
                {
                    _half[name] = name;
                }
            }

            _nodes.Add(node);
            _nodes.AddRange(castsAfter);
        }

        private void Keep(NodeProto node)
        {
            for (int i = 0; i < node.Input.Count; i++)
            {
                if (IsFloat(node.Input[i]))
                {
                    node.Input[i] = Single(node.Input[i]);
                }
            }

            _nodes.Add(node);
            foreach (string output in node.Output.Where(IsFloat))
            {
                _single[output] = output;
            }
        }

        private string Half(string value) => Get(value, _half, Float16);

        private string Single(string value) => Get(value, _single, Float);

        private string Get(string value, Dictionary<string, string> wanted, int type)
        {
            if (wanted.TryGetValue(value, out string? name))
            {
                return name;
            }

            string source = (type == Float16 ? _single : _half)[value];
            name = _names.Unique($"{value}_{(type == Float16 ? "fp16" : "fp32")}");
            _nodes.Add(CastNode(source, name, type));
            wanted[value] = name;
            return name;
        }

        private NodeProto CastNode(string input, string output, int to)
        {
            var node = new NodeProto { OpType = "Cast", Name = _names.Unique($"{output}_cast") };
            node.Input.Add(input);
            node.Output.Add(output);
            node.Attribute.Add(OnnxAttribute.Int("to", to));
            return node;
        }

        private void ConvertInitializers(HashSet<string> inputs)
        {
            int clamped = 0;
            for (int i = 0; i < graph.Initializer.Count; i++)
            {
                TensorProto tensor = graph.Initializer[i];
                // An initializer that is also a graph input or output is part of the interface: it stays float32.
                if (tensor.DataType != Float || inputs.Contains(tensor.Name) || _outputs.Contains(tensor.Name))
                {
                    if (tensor.DataType == Float)
                    {
                        _single[tensor.Name] = tensor.Name;
                    }

                    continue;
                }

                float[] values = OnnxTensors.ToArray<float>(tensor);
                var halves = new Half[values.Length];
                for (int v = 0; v < values.Length; v++)
                {
                    float value = values[v];
                    if (Math.Abs(value) > MaxHalf && float.IsFinite(value))
                    {
                        value = Math.Clamp(value, -MaxHalf, MaxHalf);
                        clamped++;
                    }

                    halves[v] = (Half)value;
                }

                TensorProto converted = OnnxTensors.Create<Half>(tensor.Name, halves, tensor.Dims.ToArray());
                converted.DocString = tensor.DocString;
                graph.Initializer[i] = converted;
                _half[tensor.Name] = tensor.Name;
                ConvertedInitializers++;
            }

            if (clamped > 0)
            {
                Warnings.Add($"{clamped} weight element(s) beyond ±{MaxHalf} were clamped to the float16 range.");
            }
        }

        // A value declared float in value_info that now holds float16 under its name says so; stale declarations
        // make ONNX Runtime reject the graph.
        private void UpdateValueInfo()
        {
            foreach (ValueInfoProto value in graph.ValueInfo)
            {
                if (value.Type?.TensorType is { ElemType: Float } tensor
                    && _half.TryGetValue(value.Name, out string? half) && half == value.Name)
                {
                    tensor.ElemType = Float16;
                }
            }
        }

        private bool IsFloat(string name) => name.Length > 0 && types.TryGetValue(name, out int type) && type == Float;
    }
}
