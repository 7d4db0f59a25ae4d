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
            var candidates = model.Graph.Node.Where(MatMulRewriter.IsCandidate)
                .Select(n => new SkippedNode(GraphNames.Describe(n), n.OpType,
                    $"the model imports opset {opset}; DynamicQuantizeLinear needs opset {MinimumOpset} or later."))
                .ToList();
            return new OptimizationResult(model, [], candidates) { Warnings = warnings };
        }

        ModelProto result = model.Clone();
        var rewriter = new DynamicRewriter(result.Graph, options);
        rewriter.Run();
        if (rewriter.Changed.Count == 0)
        {
            return new OptimizationResult(model, [], rewriter.Skipped) { Warnings = warnings };
        }

        ModelChecks.RequireWellFormed(result.Graph, "int8 dynamic quantization");
        return new OptimizationResult(result, rewriter.Changed, rewriter.Skipped) { Warnings = warnings };
    }

    private sealed class DynamicRewriter(GraphProto graph, DynamicQuantizationOptions options)
        : MatMulRewriter(graph, new WeightScheme(options.PerChannel, options.Symmetric, options.ReduceRange), options.ExcludeNodes, options.ExcludeOpTypes)
    {
        protected override void Emit(NodeProto node, string activation, QuantizedInitializers weight, string? bias, string output)
        {
            string stem = Stem(node);
            string quantized = Names.Unique($"{stem}_input_quantized");
            string scale = Names.Unique($"{stem}_input_scale");
            string zeroPoint = Names.Unique($"{stem}_input_zero_point");
            string product = Names.Unique($"{stem}_int32");
            string productFloat = Names.Unique($"{stem}_int32_float");
            string outputScale = Names.Unique($"{stem}_output_scale");
            string scaled = bias is null ? output : Names.Unique($"{stem}_unbiased");

            Add(NewNode("DynamicQuantizeLinear", $"{stem}_quantize_input", [activation], [quantized, scale, zeroPoint]));
            Add(NewNode("MatMulInteger", $"{stem}_matmul_integer", [quantized, weight.Values, zeroPoint, weight.ZeroPoints], [product]));
            Add(NewNode("Cast", $"{stem}_to_float", [product], [productFloat], OnnxAttribute.Int("to", FloatType)));
            // Activation scale first, weight scale second: the order ONNX Runtime's fusion reads them in.
            Add(NewNode("Mul", $"{stem}_scale_product", [scale, weight.Scales], [outputScale]));
            Add(NewNode("Mul", $"{stem}_dequantize", [productFloat, outputScale], [scaled]));
            if (bias is not null)
            {
                // The bias second: ONNX Runtime folds a constant second Add operand into the fused kernel.
                Add(NewNode("Add", $"{stem}_bias", [scaled, bias], [output]));
            }
        }
    }
}
