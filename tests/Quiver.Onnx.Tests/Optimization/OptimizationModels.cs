using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Tests.Optimization;

/// <summary>Models with seeded random weights for the transform tests, and a way to run them in real ONNX Runtime.</summary>
internal static class OptimizationModels
{
    /// <summary>An MLP inputs → hidden ReLU → outputs (Gemm, Gemm, optional Softmax) with weights from <paramref name="seed"/>.</summary>
    public static ModelProto Mlp(int inputs = 32, int hidden = 64, int outputs = 10, int seed = 1, bool softmax = false) =>
        SampleModels.Mlp(Matrix(inputs, hidden, seed), Vector(hidden, seed + 1), Matrix(hidden, outputs, seed + 2), Vector(outputs, seed + 3), softmax)
            .Build();

    /// <summary>SampleModels' transformer-style block with weights from seeds <paramref name="seed"/>, seed + 1, … in its order.</summary>
    public static ModelProto TransformerBlock(int seq = 8, int width = 32, int classes = 10, int seed = 1)
    {
        int next = seed;
        return SampleModels.TransformerBlock(seq, TransformerWeights.Create(width, classes, (rows, columns) => Matrix(rows, columns, next++), length => Vector(length, next++)))
            .Build();
    }

    /// <summary>A row-major [rows, columns] matrix, uniform in ±√(6 / rows) (He-uniform, as the bench models).</summary>
    public static float[,] Matrix(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        float limit = MathF.Sqrt(6f / rows);
        var matrix = new float[rows, columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                matrix[r, c] = ((random.NextSingle() * 2) - 1) * limit;
            }
        }

        return matrix;
    }

    public static float[] Vector(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (random.NextSingle() - 0.5f) * 0.2f).ToArray();
    }

    /// <summary>Uniform values in [-1, 1).</summary>
    public static float[] Inputs(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (random.NextSingle() * 2) - 1).ToArray();
    }

    /// <summary>Runs a model in ONNX Runtime on one float input and returns its first output.</summary>
    public static float[] Run(ModelProto model, string input, long[] shape, float[] data, SessionSettings? settings = null)
    {
        using var session = InferenceSession.FromBytes(OnnxModel.ToBytes(model), settings);
        TensorValue output = session.Run([new NamedTensor(input, TensorValue.FromArray(shape, data))])[0];
        return output.AsSpan<float>().ToArray();
    }

    public static float MaxAbsDifference(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        return max;
    }

    public static float MaxAbs(float[] values) => values.Max(Math.Abs);

    /// <summary>The op types of the graph ONNX Runtime runs after its own optimizations at <paramref name="level"/>.</summary>
    public static IReadOnlyList<string> OptimizedOpTypes(ModelProto model, GraphOptimizationLevel level)
    {
        string path = Path.Combine(Path.GetTempPath(), $"quiver-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            using (InferenceSession.FromBytes(OnnxModel.ToBytes(model), new SessionSettings { OptimizationLevel = level, OptimizedModelPath = path }))
            {
            }

            return OnnxModel.Load(path).Graph.Node.Select(n => n.OpType).ToList();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
