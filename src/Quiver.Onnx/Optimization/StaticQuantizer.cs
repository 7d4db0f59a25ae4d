using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>The range an activation took on calibration data.</summary>
public readonly record struct ActivationRange(float Min, float Max);

/// <summary>
/// Int8 static quantization in the QDQ form: MatMul and Gemm weights become int8 initializers behind a DequantizeLinear,
/// and each quantized node's activation passes through QuantizeLinear/DequantizeLinear with a scale fixed by
/// calibration (<see cref="Calibrator"/>):
/// <code>
/// QuantizeLinear(x, x_scale, x_zero_point) → DequantizeLinear → MatMul ← DequantizeLinear(w_q, w_scale, w_zero_point) [→ Add(bias)]
/// </code>
/// ONNX Runtime recognises the pattern (level Extended and above) and runs an int8 kernel on the quantized operands.
/// Unlike dynamic quantization, no range is computed at run time; values outside the calibrated range are clipped.
/// </summary>
public static class StaticQuantizer
{
    /// <summary>Per-axis DequantizeLinear (a per-channel weight scale) exists from opset 13 on.</summary>
    public const long MinimumOpset = 13;

    /// <summary>The activations whose ranges calibration must measure: the first operand of each candidate node.</summary>
    public static IReadOnlyList<string> ActivationsToCalibrate(ModelProto model, DynamicQuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new DynamicQuantizationOptions();
        var constants = model.Graph.Initializer.Select(t => t.Name).Except(model.Graph.Input.Select(i => i.Name)).ToHashSet(StringComparer.Ordinal);
        return model.Graph.Node
            .Where(n => MatMulRewriter.IsCandidate(n) && n.Input.Count >= 2 && !options.ExcludeNodes.Contains(n.Name) && !options.ExcludeOpTypes.Contains(n.OpType))
            .Select(n => n.Input[0])
            .Where(a => !constants.Contains(a))
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Returns the quantized model; nodes whose activation has no range in <paramref name="ranges"/> are skipped.</summary>
    /// <exception cref="ModelOptimizationException">Weights are in external files, or a weight is not finite.</exception>
    public static OptimizationResult Quantize(ModelProto model, IReadOnlyDictionary<string, ActivationRange> ranges, DynamicQuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(ranges);
        options ??= new DynamicQuantizationOptions();
        ModelChecks.RequireEmbeddedWeights(model);
        long opset = OnnxModel.GetOpset(model) ?? 1;
        if (opset < MinimumOpset)
        {
            var candidates = model.Graph.Node.Where(MatMulRewriter.IsCandidate)
                .Select(n => new SkippedNode(GraphNames.Describe(n), n.OpType,
                    $"the model imports opset {opset}; static quantization writes opset {MinimumOpset} QuantizeLinear/DequantizeLinear."))
                .ToList();
            return new OptimizationResult(model, [], candidates);
        }

        ModelProto result = model.Clone();
        var rewriter = new StaticRewriter(result.Graph, options, ranges);
        rewriter.Run();
        if (rewriter.Changed.Count == 0)
        {
            return new OptimizationResult(model, [], rewriter.Skipped);
        }

        ModelChecks.RequireWellFormed(result.Graph, "int8 static quantization");
        return new OptimizationResult(result, rewriter.Changed, rewriter.Skipped);
    }

    /// <summary>The uint8 scale and zero point that cover [min(range, 0), max(range, 0)].</summary>
    public static (float Scale, byte ZeroPoint) ActivationParameters(ActivationRange range)
    {
        float min = Math.Min(range.Min, 0), max = Math.Max(range.Max, 0);
        float scale = (max - min) / 255f;
        if (!float.IsNormal(scale))
        {
            return (1f, 0);
        }

        return (scale, (byte)Math.Clamp((int)MathF.Round(-min / scale), 0, 255));
    }

    private sealed class StaticRewriter(GraphProto graph, DynamicQuantizationOptions options, IReadOnlyDictionary<string, ActivationRange> ranges)
        : MatMulRewriter(graph, new WeightScheme(options.PerChannel, options.Symmetric, options.ReduceRange), options.ExcludeNodes, options.ExcludeOpTypes)
    {
        // One QuantizeLinear/DequantizeLinear pair per activation, however many nodes read it.
        private readonly Dictionary<string, string> _dequantized = new(StringComparer.Ordinal);

        protected override string? ActivationProblem(string activation) =>
            ranges.TryGetValue(activation, out ActivationRange range)
                ? float.IsFinite(range.Min) && float.IsFinite(range.Max) ? null : $"the calibrated range of '{activation}' is not finite."
                : $"calibration measured no range for '{activation}'.";

        protected override void Emit(NodeProto node, string activation, QuantizedInitializers weight, string? bias, string output)
        {
            string stem = Stem(node);
            string input = DequantizedActivation(activation);
            string weightFloat = Names.Unique($"{stem}_weight_dequantized");
            // A per-column scale runs along axis 1 of the [K, N] weight.
            AttributeProto[] axis = Graph.Initializer.First(t => t.Name == weight.Scales).Dims.Count == 1 ? [OnnxAttribute.Int("axis", 1)] : [];
            Add(NewNode("DequantizeLinear", $"{stem}_dequantize_weight", [weight.Values, weight.Scales, weight.ZeroPoints], [weightFloat], axis));
            string product = bias is null ? output : Names.Unique($"{stem}_unbiased");
            Add(NewNode("MatMul", $"{stem}_matmul", [input, weightFloat], [product]));
            if (bias is not null)
            {
                // Sum, not Add: ONNX Runtime fuses MatMul + Add into a float Gemm before its QDQ rules see the MatMul,
                // and a Gemm whose output is not quantized again stays float. Sum of two is Add with the same
                // broadcasting, and leaves the MatMul to become an int8 MatMulIntegerToFloat.
                Add(NewNode("Sum", $"{stem}_bias", [product, bias], [output]));
            }
        }

        private string DequantizedActivation(string activation)
        {
            if (_dequantized.TryGetValue(activation, out string? existing))
            {
                return existing;
            }

            (float scale, byte zeroPoint) = ActivationParameters(ranges[activation]);
            string scaleName = AddInitializer(OnnxTensors.Create<float>(Names.Unique($"{activation}_scale"), [scale], []));
            string zeroName = AddInitializer(OnnxTensors.Create<byte>(Names.Unique($"{activation}_zero_point"), [zeroPoint], []));
            string quantized = Names.Unique($"{activation}_quantized");
            string dequantized = Names.Unique($"{activation}_dequantized");
            Add(NewNode("QuantizeLinear", $"{activation}_quantize", [activation, scaleName, zeroName], [quantized]));
            Add(NewNode("DequantizeLinear", $"{activation}_dequantize", [quantized, scaleName, zeroName], [dequantized]));
            _dequantized[activation] = dequantized;
            return dequantized;
        }
    }
}
