using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;
using Quiver.Onnx.Optimization;

namespace Quiver.Onnx.Tests.Optimization;

/// <summary>
/// Calibrated (static) int8 graphs run in real ONNX Runtime and agree with the float originals on inputs from the
/// calibration distribution: the largest difference stays under 4% of the largest output magnitude (one more rounding
/// than dynamic quantization's 3%: the activation range is fixed, not fitted to each batch).
/// </summary>
public sealed class StaticQuantizerTests
{
    private const float RelativeTolerance = 0.04f;

    [Theory]
    [InlineData(false, CalibrationMethod.MinMax)]
    [InlineData(true, CalibrationMethod.MinMax)]
    [InlineData(true, CalibrationMethod.Percentile)]
    public void Quantize_CalibratedMlp_RunsInOnnxRuntimeAndAgrees(bool perChannel, CalibrationMethod method)
    {
        ModelProto model = OptimizationModels.Mlp();
        var options = new DynamicQuantizationOptions { PerChannel = perChannel };
        IReadOnlyDictionary<string, ActivationRange> ranges = Calibrate(model, options, method);

        OptimizationResult result = StaticQuantizer.Quantize(model, ranges, options);

        Assert.Equal(["gemm_0", "gemm_1"], result.Changed);
        Assert.Empty(GraphWiring.Check(result.Model.Graph));
        float[] x = OptimizationModels.Inputs(16 * 32, seed: 77);
        float[] expected = OptimizationModels.Run(model, "input", [16, 32], x);
        float[] actual = OptimizationModels.Run(result.Model, "input", [16, 32], x);
        float difference = OptimizationModels.MaxAbsDifference(expected, actual);
        Assert.True(difference <= RelativeTolerance * OptimizationModels.MaxAbs(expected), $"max abs difference {difference}");
    }

    [Fact]
    public void Quantize_CalibratedMlp_WritesQdqPairsThatOnnxRuntimeRunsAsInt8()
    {
        ModelProto model = OptimizationModels.Mlp();

        OptimizationResult result = StaticQuantizer.Quantize(model, Calibrate(model, new(), CalibrationMethod.MinMax));

        Assert.Equal(2, result.Model.Graph.Node.Count(n => n.OpType == "QuantizeLinear"));
        Assert.Equal(4, result.Model.Graph.Node.Count(n => n.OpType == "DequantizeLinear"));
        IReadOnlyList<string> ops = OptimizationModels.OptimizedOpTypes(result.Model, GraphOptimizationLevel.Extended);
        // Both layers become int8 kernels fed by a QuantizeLinear; no DequantizeLinear or float MatMul is left.
        Assert.Equal(2, ops.Count(op => op == "MatMulIntegerToFloat"));
        Assert.DoesNotContain("DequantizeLinear", ops);
        Assert.DoesNotContain("Gemm", ops);
    }

    [Fact]
    public void Quantize_ActivationWithoutRange_IsSkippedSayingSo()
    {
        ModelProto model = OptimizationModels.Mlp();
        var ranges = new Dictionary<string, ActivationRange> { ["input"] = new(-1, 1) };

        OptimizationResult result = StaticQuantizer.Quantize(model, ranges);

        Assert.Equal(["gemm_0"], result.Changed);
        Assert.Contains("no range for 'hidden'", Assert.Single(result.Skipped).Reason);
    }

    [Fact]
    public void ActivationsToCalibrate_AreTheFirstOperandsOfTheCandidates()
    {
        Assert.Equal(["input", "hidden"], StaticQuantizer.ActivationsToCalibrate(OptimizationModels.Mlp()));
        Assert.Equal(["hidden"], StaticQuantizer.ActivationsToCalibrate(OptimizationModels.Mlp(), new DynamicQuantizationOptions { ExcludeNodes = ["gemm_0"] }));
    }

    [Fact]
    public void Calibrate_MinMax_IsTheObservedExtremes()
    {
        ModelProto model = SampleModels.AddConstant(TensorElementType.Float, 1, "batch").Build();

        IReadOnlyDictionary<string, ActivationRange> ranges = Calibrator.Calibrate(model, ["input", "output"],
            [[new NamedTensor("input", TensorValue.FromArray([3L], [-2f, 0.5f, 3f]))]], CalibrationMethod.MinMax);

        Assert.Equal(new ActivationRange(-2f, 3f), ranges["input"]);
        Assert.Equal(new ActivationRange(-1f, 4f), ranges["output"]);
    }

    [Fact]
    public void Calibrate_Percentile_ClipsARareOutlier()
    {
        ModelProto model = SampleModels.Identity(TensorElementType.Float).Build();
        float[] values = Enumerable.Range(0, 10_000).Select(i => i / 10_000f).Append(1000f).ToArray();

        IReadOnlyDictionary<string, ActivationRange> ranges = Calibrator.Calibrate(model, ["output"],
            [[new NamedTensor("input", TensorValue.FromArray([values.LongLength], values))]], CalibrationMethod.Percentile, percentile: 99.9);

        Assert.InRange(ranges["output"].Max, 0.99f, 1f);
        Assert.InRange(ranges["output"].Min, 0f, 0.01f);
    }

    [Fact]
    public void ActivationParameters_CoverZeroAndTheRange()
    {
        (float scale, byte zeroPoint) = StaticQuantizer.ActivationParameters(new ActivationRange(-1f, 3f));

        Assert.Equal(4f / 255, scale, 6);
        Assert.Equal(64, zeroPoint);
        Assert.Equal((1f, (byte)0), StaticQuantizer.ActivationParameters(new ActivationRange(0, 0)));
    }

    private static IReadOnlyDictionary<string, ActivationRange> Calibrate(ModelProto model, DynamicQuantizationOptions options, CalibrationMethod method)
    {
        var batches = Enumerable.Range(0, 8).Select(b =>
            (IReadOnlyList<NamedTensor>)[new NamedTensor("input", TensorValue.FromArray([16L, 32L], OptimizationModels.Inputs(16 * 32, seed: b)))]);
        return Calibrator.Calibrate(model, StaticQuantizer.ActivationsToCalibrate(model, options).ToList(), batches.ToList(), method);
    }
}
