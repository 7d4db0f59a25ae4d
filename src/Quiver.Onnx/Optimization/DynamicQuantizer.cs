using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>
/// Int8 dynamic quantization: the constant weights of MatMul and Gemm become int8 initializers, and each such node
/// becomes standard ONNX that quantizes its activation at run time:
/// <code>
/// DynamicQuantizeLinear(x) → x_q (uint8), x_scale, x_zero_point
/// MatMulInteger(x_q, w_q, x_zero_point, w_zero_point) → int32 → Cast(float) → Mul(x_scale × w_scale) [→ Add(bias)]
/// </code>
/// ONNX Runtime's CPU provider fuses exactly this pattern (at level Extended and above) into one
/// DynamicQuantizeMatMul kernel, u8×s8 with a per-column scale allowed. Biases and every other op stay float.
/// </summary>
public static class DynamicQuantizer
{
    /// <summary>DynamicQuantizeLinear exists from opset 11 on.</summary>
    public const long MinimumOpset = 11;

    private const int FloatType = (int)TensorElementType.Float;

    /// <summary>Returns the quantized model; the input model is not modified.</summary>
    /// <exception cref="ModelOptimizationException">Weights are in external files, or a weight is not finite.</exception>
    public static OptimizationResult Quantize(ModelProto model, DynamicQuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new DynamicQuantizationOptions();
        ModelChecks.RequireEmbeddedWeights(model);

        var warnings = new List<string>();
        var nodeNames = model.Graph.Node.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        foreach (string missing in options.ExcludeNodes.Where(n => !nodeNames.Contains(n)))
        {
            warnings.Add($"excluded node '{missing}' is not a node of the graph.");
        }

        long opset = OnnxModel.GetOpset(model) ?? 1;
        if (opset < MinimumOpset)
        {
            var candidates = model.Graph.Node.Where(IsCandidate)
                .Select(n => new SkippedNode(GraphNames.Describe(n), n.OpType,
                    $"the model imports opset {opset}; DynamicQuantizeLinear needs opset {MinimumOpset} or later."))
                .ToList();
            return new OptimizationResult(model, [], candidates) { Warnings = warnings };
        }

        ModelProto result = model.Clone();
        var rewriter = new Rewriter(result.Graph, options);
        rewriter.Run();
        if (rewriter.Changed.Count == 0)
        {
            return new OptimizationResult(model, [], rewriter.Skipped) { Warnings = warnings };
        }

        ModelChecks.RequireWellFormed(result.Graph, "int8 dynamic quantization");
        return new OptimizationResult(result, rewriter.Changed, rewriter.Skipped) { Warnings = warnings };
    }

    private static bool IsCandidate(NodeProto node) =>
        node.Domain is "" or "ai.onnx" && DynamicQuantizationOptions.QuantizableOpTypes.Contains(node.OpType);

    /// <summary>One pass over a graph (not its subgraphs), rewriting it in place.</summary>
    private sealed class Rewriter(GraphProto graph, DynamicQuantizationOptions options)
    {
        private readonly Dictionary<string, TensorProto> _initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);

        // An initializer that is also a graph input is only a default the caller may override: not a constant.
        private readonly HashSet<string> _inputs = graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        private readonly GraphNames _names = new(graph);

        // A weight shared by several nodes (tied embeddings, a repeated block) is quantized once per distinct use.
        private readonly Dictionary<(string Weight, bool Transposed, float Alpha), QuantizedInitializers> _quantized = [];
        private readonly HashSet<string> _replacedWeights = new(StringComparer.Ordinal);
        private readonly List<NodeProto> _nodes = [];

        public List<string> Changed { get; } = [];

        public List<SkippedNode> Skipped { get; } = [];

        public void Run()
        {
            foreach (NodeProto node in graph.Node)
            {
                if (!IsCandidate(node))
                {
                    _nodes.Add(node);
                    continue;
                }

                string? reason = options.ExcludeNodes.Contains(node.Name) ? "excluded by name."
                    : options.ExcludeOpTypes.Contains(node.OpType) ? $"op type {node.OpType} is excluded."
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

        private string? RewriteMatMul(NodeProto node)
        {
            if (node.Input.Count != 2 || node.Output.Count != 1)
            {
                return "MatMul needs two inputs and one output.";
            }

            if (WeightProblem(node.Input[1]) is { } problem)
            {
                return problem;
            }

            if (IsConstant(node.Input[0]))
            {
                return "both operands are constant; nothing is computed at run time.";
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

            if (WeightProblem(node.Input[1]) is { } problem)
            {
                return problem;
            }

            if (IsConstant(node.Input[0]))
            {
                return "both operands are constant; nothing is computed at run time.";
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

        private void Emit(NodeProto node, string activation, QuantizedInitializers weight, string? bias, string output)
        {
            string stem = Stem(node);
            string quantized = _names.Unique($"{stem}_input_quantized");
            string scale = _names.Unique($"{stem}_input_scale");
            string zeroPoint = _names.Unique($"{stem}_input_zero_point");
            string product = _names.Unique($"{stem}_int32");
            string productFloat = _names.Unique($"{stem}_int32_float");
            string outputScale = _names.Unique($"{stem}_output_scale");
            string scaled = bias is null ? output : _names.Unique($"{stem}_unbiased");

            _nodes.Add(NewNode("DynamicQuantizeLinear", $"{stem}_quantize_input", [activation], [quantized, scale, zeroPoint]));
            _nodes.Add(NewNode("MatMulInteger", $"{stem}_matmul_integer", [quantized, weight.Values, zeroPoint, weight.ZeroPoints], [product]));
            _nodes.Add(NewNode("Cast", $"{stem}_to_float", [product], [productFloat], OnnxAttribute.Int("to", FloatType)));
            // Activation scale first, weight scale second: the order ONNX Runtime's fusion reads them in.
            _nodes.Add(NewNode("Mul", $"{stem}_scale_product", [scale, weight.Scales], [outputScale]));
            _nodes.Add(NewNode("Mul", $"{stem}_dequantize", [productFloat, outputScale], [scaled]));
            if (bias is not null)
            {
                // The bias second: ONNX Runtime folds a constant second Add operand into the fused kernel.
                _nodes.Add(NewNode("Add", $"{stem}_bias", [scaled, bias], [output]));
            }
        }

        private NodeProto NewNode(string opType, string stem, string[] inputs, string[] outputs, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = opType, Name = _names.Unique(stem) };
            node.Input.AddRange(inputs);
            node.Output.AddRange(outputs);
            node.Attribute.AddRange(attributes);
            return node;
        }

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
                q = QuantizedWeights.Quantize(values, rows, columns, options.PerChannel, options.Symmetric, options.ReduceRange);
            }
            catch (ModelOptimizationException e)
            {
                throw new ModelOptimizationException($"initializer '{weight.Name}': {e.Message}", e);
            }

            string stem = weight.Name + (transposed ? "_transposed" : "") + (alpha != 1f ? "_scaled" : "");
            long[] scaleDims = q.Scales.Length == 1 ? [] : [q.Scales.Length];
            var result = new QuantizedInitializers(
                AddInitializer(OnnxTensors.Create<sbyte>(_names.Unique($"{stem}_quantized"), q.Values, [rows, columns])),
                AddInitializer(OnnxTensors.Create<float>(_names.Unique($"{stem}_scale"), q.Scales, scaleDims)),
                AddInitializer(OnnxTensors.Create<sbyte>(_names.Unique($"{stem}_zero_point"), q.ZeroPoints, scaleDims)));
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
            return AddInitializer(OnnxTensors.Create<float>(_names.Unique($"{bias.Name}_scaled"), values, bias.Dims.ToArray()));
        }

        private string AddInitializer(TensorProto tensor)
        {
            graph.Initializer.Add(tensor);
            _initializers[tensor.Name] = tensor;
            return tensor.Name;
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

        private static string Stem(NodeProto node) => node.Name.Length > 0 ? node.Name : node.Output[0];

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

    private sealed record QuantizedInitializers(string Values, string Scales, string ZeroPoints);
}
