using Quiver.Onnx.Model;

namespace Quiver.Cli.Bench;

/// <summary>
/// <see cref="SampleModels.TransformerBlock"/> computed here in double precision, up to the pooled features the
/// classifier reads: what the bench needs to fit that classifier without depending on one machine's ONNX Runtime
/// kernels, so every machine writes the same weights.
/// </summary>
public static class TransformerReference
{
    // ONNX LayerNormalization's default epsilon.
    private const double LayerNormEpsilon = 1e-5;

    /// <summary>The mean over the sequence of the block's output for one input [<paramref name="sequence"/>, width], row-major.</summary>
    public static double[] PooledFeatures(TransformerWeights weights, ReadOnlySpan<float> input, int sequence)
    {
        int width = weights.Width;
        var x = new double[sequence * width];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = input[i];
        }

        double[] q = Multiply(x, sequence, weights.Query);
        double[] k = Multiply(x, sequence, weights.Key);
        double[] v = Multiply(x, sequence, weights.Value);
        double[] attention = Attention(q, k, sequence, width);
        double[] context = Multiply(attention, sequence, v, width);
        double[] residual = Multiply(context, sequence, weights.Output);
        Add(residual, x);
        NormalizeRows(residual, sequence, width);
        double[] hidden = Multiply(residual, sequence, weights.FeedForward1);
        AddBias(hidden, weights.FeedForwardBias1);
        for (int i = 0; i < hidden.Length; i++)
        {
            hidden[i] = Math.Max(hidden[i], 0);
        }

        double[] block = Multiply(hidden, sequence, weights.FeedForward2);
        AddBias(block, weights.FeedForwardBias2);
        Add(block, residual);

        var pooled = new double[width];
        for (int s = 0; s < sequence; s++)
        {
            for (int d = 0; d < width; d++)
            {
                pooled[d] += block[(s * width) + d] / sequence;
            }
        }

        return pooled;
    }

    // Softmax(Q·Kᵀ / √width) over the last axis: [sequence, sequence].
    private static double[] Attention(double[] q, double[] k, int sequence, int width)
    {
        var scores = new double[sequence * sequence];
        double scale = 1 / Math.Sqrt(width);
        for (int i = 0; i < sequence; i++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < sequence; j++)
            {
                double dot = 0;
                for (int d = 0; d < width; d++)
                {
                    dot += q[(i * width) + d] * k[(j * width) + d];
                }

                scores[(i * sequence) + j] = dot * scale;
                max = Math.Max(max, dot * scale);
            }

            double sum = 0;
            for (int j = 0; j < sequence; j++)
            {
                sum += scores[(i * sequence) + j] = Math.Exp(scores[(i * sequence) + j] - max);
            }

            for (int j = 0; j < sequence; j++)
            {
                scores[(i * sequence) + j] /= sum;
            }
        }

        return scores;
    }

    private static void NormalizeRows(double[] values, int rows, int width)
    {
        for (int r = 0; r < rows; r++)
        {
            Span<double> row = values.AsSpan(r * width, width);
            double mean = 0, variance = 0;
            foreach (double value in row)
            {
                mean += value / width;
            }

            foreach (double value in row)
            {
                variance += (value - mean) * (value - mean) / width;
            }

            double inverse = 1 / Math.Sqrt(variance + LayerNormEpsilon);
            for (int d = 0; d < width; d++)
            {
                row[d] = (row[d] - mean) * inverse;
            }
        }
    }

    private static double[] Multiply(double[] left, int rows, float[,] right)
    {
        int inner = right.GetLength(0), columns = right.GetLength(1);
        var flat = new double[inner * columns];
        for (int i = 0; i < inner; i++)
        {
            for (int c = 0; c < columns; c++)
            {
                flat[(i * columns) + c] = right[i, c];
            }
        }

        return Multiply(left, rows, flat, columns);
    }

    private static double[] Multiply(double[] left, int rows, double[] right, int columns)
    {
        int inner = right.Length / columns;
        var result = new double[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < inner; i++)
            {
                double value = left[(r * inner) + i];
                for (int c = 0; c < columns; c++)
                {
                    result[(r * columns) + c] += value * right[(i * columns) + c];
                }
            }
        }

        return result;
    }

    private static void Add(double[] values, double[] other)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] += other[i];
        }
    }

    private static void AddBias(double[] values, float[] bias)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] += bias[i % bias.Length];
        }
    }
}
