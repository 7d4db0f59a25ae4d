using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>How weights are quantized: per column or per tensor, symmetric or not, 7 or 8 bits.</summary>
internal sealed record WeightScheme(bool PerChannel, bool Symmetric, bool ReduceRange);

/// <summary>The int8 weight, its scale and its zero point, by initializer name.</summary>
internal sealed record QuantizedInitializers(string Values, string Scales, string ZeroPoints);

/// <summary>
/// One pass over a graph (not its subgraphs) that finds the MatMul and Gemm nodes with a constant 2-D float weight,
/// quantizes their weights, and lets a subclass write the nodes that replace each one. Gemm's transB is applied to the
/// weight, alpha folded into it, and beta into a constant bias, so every rewrite sees y = x · W (+ bias).
/// </summary>
internal abstract class MatMulRewriter(GraphProto graph, WeightScheme scheme, IReadOnlyCollection<string> excludeNodes,
    IReadOnlyCollection<string> excludeOpTypes)
{
    private const int FloatType = (int)TensorElementType.Float;

    private readonly Dictionary<string, TensorProto> _initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);

    // An initializer that is also a graph input is only a default the caller may override: not a constant.
    private readonly HashSet<string> _inputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);

    // A weight shared by several nodes (tied embeddings, a repeated block) is quantized once per distinct use.
    private readonly Dictionary<(string Weight, bool Transposed, float Alpha), QuantizedInitializers> _quantized = [];
    private readonly HashSet<string> _replacedWeights = new(StringComparer.Ordinal);
    private readonly List<NodeProto> _nodes = [];

    public List<string> Changed { get; } = [];

    public List<SkippedNode> Skipped { get; } = [];

    protected GraphNames Names { get; } = new(graph);

    protected GraphProto Graph => graph;

    /// <summary>Whether a node is a MatMul or Gemm of the default domain.</summary>
    public static bool IsCandidate(NodeProto node) =>
        node.Domain is "" or "ai.onnx" && DynamicQuantizationOptions.QuantizableOpTypes.Contains(node.OpType);

    public void Run()
    {
        foreach (NodeProto node in graph.Node)
        {
            if (!IsCandidate(node))
            {
                _nodes.Add(node);
                continue;
            }

            string? reason = excludeNodes.Contains(node.Name) ? "excluded by name."
                : excludeOpTypes.Contains(node.OpType) ? $"op type {node.OpType} is excluded."
                : node.OpType == "Gemm" ? RewriteGemm(node)
                : RewriteMatMul(node);
            if (reason is null)
            {
                Changed.Add(GraphNames.Describe(node));
            }
            else
            {
                Skipped.Add(new SkippedNode(GraphNames.Describe(node), node.OpType, reason));
                _nodes.Add(node);
            }
        }

        if (Changed.Count == 0)
        {
            return;
        }

        graph.Node.Clear();
        graph.Node.AddRange(_nodes);
        RemoveUnusedWeights();
    }

    /// <summary>Writes the nodes computing <paramref name="output"/> = activation · weight (+ bias).</summary>
    protected abstract void Emit(NodeProto node, string activation, QuantizedInitializers weight, string? bias, string output);

    /// <summary>Why the activation cannot be quantized, or null when it can.</summary>
    protected virtual string? ActivationProblem(string activation) => null;

    protected void Add(NodeProto node) => _nodes.Add(node);

    protected NodeProto NewNode(string opType, string stem, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = Names.Unique(stem) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    protected string AddInitializer(TensorProto tensor)
    {
        graph.Initializer.Add(tensor);
        _initializers[tensor.Name] = tensor;
        return tensor.Name;
    }

    protected static string Stem(NodeProto node) => node.Name.Length > 0 ? node.Name : node.Output[0];

    private string? RewriteMatMul(NodeProto node)
    {
        if (node.Input.Count != 2 || node.Output.Count != 1)
        {
            return "MatMul needs two inputs and one output.";
        }

        if ((WeightProblem(node.Input[1]) ?? OperandProblem(node.Input[0])) is { } problem)
        {
            return problem;
        }

        TensorProto weight = _initializers[node.Input[1]];
        Emit(node, node.Input[0], Quantized(weight, transposed: false, alpha: 1f), bias: null, node.Output[0]);
        return null;
    }

    private string? RewriteGemm(NodeProto node)
    {
        if (node.Input.Count < 2 || node.Output.Count != 1)
        {
            return "Gemm needs two or three inputs and one output.";
        }

        float alpha = FloatAttribute(node, "alpha", 1f), beta = FloatAttribute(node, "beta", 1f);
        if (IntAttribute(node, "transA", 0) != 0)
        {
            return "transA = 1 is not rewritten.";
        }

        if ((WeightProblem(node.Input[1]) ?? OperandProblem(node.Input[0])) is { } problem)
        {
            return problem;
        }

        string? bias = node.Input.Count > 2 && node.Input[2].Length > 0 ? node.Input[2] : null;
        if (bias is not null && beta != 1f)
        {
            if (!IsConstant(bias))
            {
                return $"beta = {beta} scales a bias computed at run time; only beta = 1 is rewritten then.";
            }

            bias = ScaledBias(_initializers[bias], beta);
        }

        TensorProto weight = _initializers[node.Input[1]];
        bool transposed = IntAttribute(node, "transB", 0) != 0;
        Emit(node, node.Input[0], Quantized(weight, transposed, alpha), bias, node.Output[0]);
        return null;
    }

    private string? OperandProblem(string activation) =>
        IsConstant(activation) ? "both operands are constant; nothing is computed at run time." : ActivationProblem(activation);

    private string? WeightProblem(string name)
    {
        if (!_initializers.TryGetValue(name, out TensorProto? weight) || _inputs.Contains(name))
        {
            return $"the weight '{name}' is not a constant initializer.";
        }

        if (weight.DataType != FloatType)
        {
            return $"the weight '{name}' is {(TensorElementType)weight.DataType}; only Float weights are quantized.";
        }

        return weight.Dims.Count != 2 ? $"the weight '{name}' has rank {weight.Dims.Count}; only 2-D weights are quantized." : null;
    }

    private bool IsConstant(string name) => _initializers.ContainsKey(name) && !_inputs.Contains(name);

    private QuantizedInitializers Quantized(TensorProto weight, bool transposed, float alpha)
    {
        if (_quantized.TryGetValue((weight.Name, transposed, alpha), out QuantizedInitializers? existing))
        {
            return existing;
        }

        int rows = checked((int)weight.Dims[0]), columns = checked((int)weight.Dims[1]);
        float[] values = OnnxTensors.ToArray<float>(weight);
        if (transposed)
        {
            // Gemm's transB weight is stored [N, K]; MatMulInteger wants [K, N].
            values = Transpose(values, rows, columns);
            (rows, columns) = (columns, rows);
        }

        if (alpha != 1f)
        {
            for (int i = 0; i < values.Length; i++)
            {
                values[i] *= alpha;
            }
        }

        QuantizedWeights q;
        try
        {
            q = QuantizedWeights.Quantize(values, rows, columns, scheme.PerChannel, scheme.Symmetric, scheme.ReduceRange);
        }
        catch (ModelOptimizationException e)
        {
            throw new ModelOptimizationException($"initializer '{weight.Name}': {e.Message}", e);
        }

        string stem = weight.Name + (transposed ? "_transposed" : "") + (alpha != 1f ? "_scaled" : "");
        long[] scaleDims = q.Scales.Length == 1 ? [] : [q.Scales.Length];
        var result = new QuantizedInitializers(
            AddInitializer(OnnxTensors.Create<sbyte>(Names.Unique($"{stem}_quantized"), q.Values, [rows, columns])),
            AddInitializer(OnnxTensors.Create<float>(Names.Unique($"{stem}_scale"), q.Scales, scaleDims)),
            AddInitializer(OnnxTensors.Create<sbyte>(Names.Unique($"{stem}_zero_point"), q.ZeroPoints, scaleDims)));
        _quantized[(weight.Name, transposed, alpha)] = result;
        _replacedWeights.Add(weight.Name);
        return result;
    }

    private string ScaledBias(TensorProto bias, float beta)
    {
        if (bias.DataType != FloatType)
        {
            throw new ModelOptimizationException($"Gemm bias '{bias.Name}' is {(TensorElementType)bias.DataType}, not Float.");
        }

        float[] values = OnnxTensors.ToArray<float>(bias);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] *= beta;
        }

        _replacedWeights.Add(bias.Name);
        return AddInitializer(OnnxTensors.Create<float>(Names.Unique($"{bias.Name}_scaled"), values, bias.Dims.ToArray()));
    }

    // A float weight no node reads any more goes; one still read elsewhere (an unquantized use) stays.
    private void RemoveUnusedWeights()
    {
        HashSet<string> referenced = GraphNames.Referenced(graph);
        for (int i = graph.Initializer.Count - 1; i >= 0; i--)
        {
            string name = graph.Initializer[i].Name;
            if (_replacedWeights.Contains(name) && !referenced.Contains(name))
            {
                graph.Initializer.RemoveAt(i);
            }
        }
    }

    private static float[] Transpose(float[] values, int rows, int columns)
    {
        var transposed = new float[values.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                transposed[(c * rows) + r] = values[(r * columns) + c];
            }
        }

        return transposed;
    }

    private static float FloatAttribute(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;

    private static long IntAttribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;
}
