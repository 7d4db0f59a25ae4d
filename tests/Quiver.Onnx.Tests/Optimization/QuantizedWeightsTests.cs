using Quiver.Onnx.Optimization;

namespace Quiver.Onnx.Tests.Optimization;

public sealed class QuantizedWeightsTests
{
    private static readonly float[] s_matrix = [0.5f, -1f, 0.02f, 0.25f, 0.75f, -0.011f]; // [2, 3]

    [Fact]
    public void Quantize_SymmetricPerTensor_ScaleIsMaxAbsOver127AndZeroPointZero()
    {
        QuantizedWeights q = QuantizedWeights.Quantize(s_matrix, 2, 3, perColumn: false, symmetric: true);

        Assert.Equal(1f / 127, Assert.Single(q.Scales), 6);
        Assert.Equal(0, Assert.Single(q.ZeroPoints));
        Assert.Equal(-127, q.Values[1]);
        AssertWithinHalfStep(q);
    }

    [Fact]
    public void Quantize_SymmetricPerColumn_EachColumnUsesItsOwnRange()
    {
        QuantizedWeights q = QuantizedWeights.Quantize(s_matrix, 2, 3, perColumn: true, symmetric: true);

        Assert.Equal([0.5f / 127, 1f / 127, 0.02f / 127], q.Scales);
        Assert.Equal([127, -127, 127, 64, 95, -70], q.Values.Select(v => (int)v));
        AssertWithinHalfStep(q);
    }

    [Fact]
    public void Quantize_Asymmetric_MapsMinAndMaxToTheInt8Ends()
    {
        float[] positive = [0.1f, 0.2f, 0.3f, 1.1f];

        QuantizedWeights q = QuantizedWeights.Quantize(positive, 2, 2, perColumn: false, symmetric: false);

        // The range is widened to include 0, so 0 maps to -128 exactly and 1.1 to 127.
        Assert.Equal(-128, Assert.Single(q.ZeroPoints));
        Assert.Equal(127, q.Values[3]);
        AssertWithinHalfStep(q);
    }

    [Fact]
    public void Quantize_ReduceRange_StaysWithinSevenBits()
    {
        QuantizedWeights q = QuantizedWeights.Quantize(s_matrix, 2, 3, perColumn: false, symmetric: true, reduceRange: true);

        Assert.All(q.Values, v => Assert.InRange(v, -63, 63));
        Assert.Equal(-63, q.Values[1]);
    }

    [Fact]
    public void Quantize_AllZeroColumn_KeepsAFiniteScaleAndZeros()
    {
        QuantizedWeights q = QuantizedWeights.Quantize([0f, 1f, 0f, 2f], 2, 2, perColumn: true, symmetric: false);

        Assert.Equal(1f, q.Scales[0]);
        Assert.Equal(0f, q.Dequantize(0, 0));
        Assert.Equal(0f, q.Dequantize(1, 0));
    }

    [Fact]
    public void Quantize_NaNWeight_ThrowsNamingTheElement()
    {
        var e = Assert.Throws<ModelOptimizationException>(() => QuantizedWeights.Quantize([1f, float.NaN], 1, 2, false, true));

        Assert.Contains("element 1", e.Message);
    }

    private static void AssertWithinHalfStep(QuantizedWeights q)
    {
        for (int r = 0; r < q.Rows; r++)
        {
            for (int c = 0; c < q.Columns; c++)
            {
                float scale = q.Scales.Length == 1 ? q.Scales[0] : q.Scales[c];
                float original = q.Columns == 3 ? s_matrix[(r * 3) + c] : float.NaN;
                if (!float.IsNaN(original))
                {
                    Assert.True(Math.Abs(q.Dequantize(r, c) - original) <= (scale / 2) + 1e-7f, $"({r}, {c})");
                }
            }
        }
    }
}
