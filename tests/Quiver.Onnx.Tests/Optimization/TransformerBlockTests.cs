using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;
using Quiver.Onnx.Optimization;

namespace Quiver.Onnx.Tests.Optimization;

/// <summary>
/// Every transform on a transformer-style block (attention, LayerNormalization, feed-forward, classifier), run in real
/// ONNX Runtime on 64 samples in [-1, 1): the classifier's top-1 class agrees on at least 90% of them (int8; float16:
/// all), and the largest logit difference stays under 10% (int8) or 2% (float16) of the largest logit.
/// </summary>
public sealed class TransformerBlockTests
{
    private const int Samples = 64, Seq = 8, Width = 32;

    [Fact]
    public void Int8Dynamic_QuantizesTheProjectionsAndSkipsTheActivationProducts()
    {
        ModelProto model = OptimizationModels.TransformerBlock();

        OptimizationResult result = DynamicQuantizer.Quantize(model, new DynamicQuantizationOptions { PerChannel = true });

        Assert.Equal(7, result.Changed.Count); // Q, K, V, output projection, two feed-forward layers, classifier
        Assert.Equal(["matmul_3", "matmul_4"], result.Skipped.Select(s => s.Node)); // Q·Kᵀ and attention·V
        Assert.All(result.Skipped, s => Assert.Contains("not a constant initializer", s.Reason));
        AssertAgrees(model, result.Model, minimumTop1: 0.9, relativeTolerance: 0.1f);
    }

    [Fact]
    public void Int8Static_CalibratedOnTheSameDistribution_Agrees()
    {
        ModelProto model = OptimizationModels.TransformerBlock();
        var batches = Enumerable.Range(0, 4)
            .Select(b => (IReadOnlyList<NamedTensor>)[new NamedTensor("input", TensorValue.FromArray([16L, Seq, Width], OptimizationModels.Inputs(16 * Seq * Width, seed: 100 + b)))])
            .ToList();
        IReadOnlyDictionary<string, ActivationRange> ranges = Calibrator.Calibrate(model, [.. StaticQuantizer.ActivationsToCalibrate(model)], batches, CalibrationMethod.MinMax);

        OptimizationResult result = StaticQuantizer.Quantize(model, ranges);

        Assert.Equal(7, result.Changed.Count);
        AssertAgrees(model, result.Model, minimumTop1: 0.9, relativeTolerance: 0.1f);
    }

    [Fact]
    public void Fp16_KeepsSoftmaxLayerNormAndReduceMeanInFloat32AndAgrees()
    {
        ModelProto model = OptimizationModels.TransformerBlock();

        OptimizationResult result = Fp16Converter.Convert(model);

        Assert.Equal(["LayerNormalization", "ReduceMean", "Softmax"], result.Skipped.Select(s => s.OpType).Order());
        Assert.Empty(GraphWiring.Check(result.Model.Graph));
        AssertAgrees(model, result.Model, minimumTop1: 1, relativeTolerance: 0.02f);
    }

    private static void AssertAgrees(ModelProto original, ModelProto optimized, double minimumTop1, float relativeTolerance)
    {
        float[] x = OptimizationModels.Inputs(Samples * Seq * Width, seed: 7);
        float[] expected = OptimizationModels.Run(original, "input", [Samples, Seq, Width], x);
        float[] actual = OptimizationModels.Run(optimized, "input", [Samples, Seq, Width], x);
        int classes = expected.Length / Samples, agreeing = 0;
        for (int s = 0; s < Samples; s++)
        {
            agreeing += ArgMax(expected, s * classes, classes) == ArgMax(actual, s * classes, classes) ? 1 : 0;
        }

        Assert.True(agreeing >= minimumTop1 * Samples, $"top-1 agreement {agreeing}/{Samples}");
        float difference = OptimizationModels.MaxAbsDifference(expected, actual);
        Assert.True(difference <= relativeTolerance * OptimizationModels.MaxAbs(expected),
            $"max abs difference {difference} over {relativeTolerance:P0} of max |logit| {OptimizationModels.MaxAbs(expected)}");
    }

    private static int ArgMax(float[] values, int start, int length)
    {
        int best = 0;
        for (int i = 1; i < length; i++)
        {
            if (values[start + i] > values[start + best])
            {
                best = i;
            }
        }

        return best;
    }
}
