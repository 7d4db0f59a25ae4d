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

    /// <summary>
    /// A transformer-style encoder block and classifier: input "input" FLOAT [batch, seq, width] → single-head
    /// self-attention (Q, K, V and output projections, Softmax over Q·Kᵀ / √width) with a residual and
    /// LayerNormalization → a ReLU feed-forward layer of 4 × width with a residual → mean over the sequence → Gemm
    /// → output "logits" FLOAT [batch, classes].
    /// </summary>
    public static ModelProto TransformerBlock(int seq = 8, int width = 32, int classes = 10, int seed = 1)
    {
        int ff = 4 * width;
        return new ModelBuilder("transformer_block")
            .Input("input", TensorElementType.Float, "batch", seq, width)
            .Initializer("wq", Matrix(width, width, seed))
            .Initializer("wk", Matrix(width, width, seed + 1))
            .Initializer("wv", Matrix(width, width, seed + 2))
            .Initializer("wo", Matrix(width, width, seed + 3))
            .Initializer("w_ff1", Matrix(width, ff, seed + 4))
            .Initializer("b_ff1", Vector(ff, seed + 5))
            .Initializer("w_ff2", Matrix(ff, width, seed + 6))
            .Initializer("b_ff2", Vector(width, seed + 7))
            .Initializer("w_cls", Matrix(width, classes, seed + 8))
            .Initializer("b_cls", Vector(classes, seed + 9))
            .Initializer("gamma", Enumerable.Repeat(1f, width).ToArray())
            .Initializer("beta", new float[width])
            .ScalarInitializer("inverse_sqrt_width", 1f / MathF.Sqrt(width))
            .Node("MatMul", ["input", "wq"], ["q"])
            .Node("MatMul", ["input", "wk"], ["k"])
            .Node("MatMul", ["input", "wv"], ["v"])
            .Node("Transpose", ["k"], ["k_t"], OnnxAttribute.Ints("perm", 0, 2, 1))
            .Node("MatMul", ["q", "k_t"], ["scores"])
            .Node("Mul", ["scores", "inverse_sqrt_width"], ["scaled"])
            .Node("Softmax", ["scaled"], ["attention"], OnnxAttribute.Int("axis", -1))
            .Node("MatMul", ["attention", "v"], ["context"])
            .Node("MatMul", ["context", "wo"], ["projected"])
            .Node("Add", ["input", "projected"], ["residual"])
            .Node("LayerNormalization", ["residual", "gamma", "beta"], ["normalized"], OnnxAttribute.Int("axis", -1))
            .Node("MatMul", ["normalized", "w_ff1"], ["ff_linear"])
            .Node("Add", ["ff_linear", "b_ff1"], ["ff_biased"])
            .Node("Relu", ["ff_biased"], ["ff_hidden"])
            .Node("MatMul", ["ff_hidden", "w_ff2"], ["ff_out"])
            .Node("Add", ["ff_out", "b_ff2"], ["ff_biased_out"])
            .Node("Add", ["normalized", "ff_biased_out"], ["block"])
            .Node("ReduceMean", ["block"], ["pooled"], OnnxAttribute.Ints("axes", 1), OnnxAttribute.Int("keepdims", 0))
            .Node("Gemm", ["pooled", "w_cls", "b_cls"], ["logits"])
            .Output("logits", TensorElementType.Float, "batch", classes)
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
