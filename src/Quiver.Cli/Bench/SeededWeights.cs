namespace Quiver.Cli.Bench;

/// <summary>
/// Random weights from a fixed seed, scaled as He-uniform (±√(6 / fan-in)) so activations stay near unit
/// size through the ReLU layers instead of overflowing or vanishing.
/// </summary>
public sealed class SeededWeights(int seed)
{
    private readonly Random _random = new(seed);

    /// <summary>A [rows, columns] matrix multiplied as input × matrix, so fan-in is <paramref name="rows"/>.</summary>
    public float[,] Matrix(int rows, int columns)
    {
        float limit = Limit(rows);
        var matrix = new float[rows, columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                matrix[r, c] = Uniform(limit);
            }
        }

        return matrix;
    }

    /// <summary>Convolution weights [outChannels, inChannels, size, size], flattened row-major.</summary>
    public float[] Kernel(int outChannels, int inChannels, int size)
    {
        float limit = Limit(inChannels * size * size);
        var kernel = new float[outChannels * inChannels * size * size];
        for (int i = 0; i < kernel.Length; i++)
        {
            kernel[i] = Uniform(limit);
        }

        return kernel;
    }

    /// <summary>A bias vector of small values (±0.01).</summary>
    public float[] Bias(int length)
    {
        var bias = new float[length];
        for (int i = 0; i < length; i++)
        {
            bias[i] = Uniform(0.01f);
        }

        return bias;
    }

    private static float Limit(int fanIn) => MathF.Sqrt(6f / fanIn);

    private float Uniform(float limit) => (float)((_random.NextDouble() * 2) - 1) * limit;
}
