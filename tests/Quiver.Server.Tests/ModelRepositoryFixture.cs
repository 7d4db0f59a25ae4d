using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests;

/// <summary>
/// A temporary model repository of the builder's models, served by one real server for the whole
/// test class. Weights are fixed here so tests can compute expected outputs themselves.
/// </summary>
public sealed class ModelRepositoryFixture : IAsyncLifetime
{
    public const int MaxBatchSize = 8;

    // MLP 4 -> 3 -> 2 with hand-picked weights: expected outputs are computed in C# by the tests.
    public static readonly float[,] W1 = { { 0.5f, -1f, 0.25f }, { 1f, 0.5f, -0.5f }, { -0.25f, 0.75f, 1f }, { 0.1f, 0.2f, 0.3f } };
    public static readonly float[] B1 = [0.1f, -0.2f, 0.05f];
    public static readonly float[,] W2 = { { 1f, -1f }, { 0.5f, 0.25f }, { -0.75f, 1.5f } };
    public static readonly float[] B2 = [0.2f, -0.1f];

    public static readonly Half[] Fp16Scale = [(Half)1.5f, (Half)(-2f), (Half)0.5f, (Half)3f];
    public static readonly Half[] Fp16Bias = [(Half)(-0.25f), (Half)1f, (Half)0f, (Half)0.125f];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "quiver-tests-" + Guid.NewGuid().ToString("N"));

    public TestServer Server { get; private set; } = null!;

    public string Root => _root;

    public async Task InitializeAsync()
    {
        Write("mlp", 1, SampleModels.Mlp(W1, B1, W2, B2));
        File.WriteAllText(Path.Combine(_root, "mlp", "config.json"),
            $$$"""{"max_batch_size": {{{MaxBatchSize}}}, "instance_count": 2, "label_files": {"probabilities": "labels.txt"}}""");
        File.WriteAllLines(Path.Combine(_root, "mlp", "labels.txt"), ["cat", "dog"]);

        // Two versions with different outputs: requests without a version go to the highest.
        Write("mlp_versions", 1, SampleModels.Mlp(W1, B1, W2, B2));
        Write("mlp_versions", 2, SampleModels.Mlp(W1, B1, W2, B2, softmax: false));

        foreach (TensorElementType type in IdentityTypes)
        {
            Write("identity_" + type.ToString().ToLowerInvariant(), 1, SampleModels.Identity(type, Dim.Named("batch"), Dim.Of(3)));
        }

        Write("multi_io", 1, SampleModels.MultiInputOutput());
        Write("strings", 1, SampleModels.StringIdentity());
        Write("fp16", 1, SampleModels.Fp16Scale(Fp16Scale, Fp16Bias));

        Write("slow", 1, SlowModel());
        File.WriteAllText(Path.Combine(_root, "slow", "config.json"), """{"max_queue_size": 1, "warmup": false}""");

        Directory.CreateDirectory(Path.Combine(_root, "corrupt", "1"));
        File.WriteAllBytes(Path.Combine(_root, "corrupt", "1", "model.onnx"), "this is not an ONNX model"u8.ToArray());

        Write("bad_config", 1, SampleModels.StringIdentity());
        File.WriteAllText(Path.Combine(_root, "bad_config", "config.json"), """{"max_batch_size": -1, "instanse_count": 2}""");

        Server = await TestServer.StartAsync(_root, o => o with { MaxRequestBodyBytes = 64 * 1024 });
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Every element type the protocol carries, each served by an identity model.</summary>
    public static TensorElementType[] IdentityTypes { get; } =
    [
        TensorElementType.Bool, TensorElementType.UInt8, TensorElementType.UInt16, TensorElementType.UInt32,
        TensorElementType.UInt64, TensorElementType.Int8, TensorElementType.Int16, TensorElementType.Int32,
        TensorElementType.Int64, TensorElementType.Float16, TensorElementType.BFloat16, TensorElementType.Float,
        TensorElementType.Double, TensorElementType.String,
    ];

    /// <summary>
    /// Input "x" FP32 [1] is expanded to 1024×1024 and multiplied by a 1024×1024 matrix 1000 times: about
    /// 2 TFLOP, seconds of work even at the ~4 ms per MatMul measured here, so a deadline or a
    /// cancellation always lands while it runs.
    /// </summary>
    private static ModelBuilder SlowModel()
    {
        const int n = 1024, nodes = 1000;
        var builder = new ModelBuilder("slow")
            .Input("x", TensorElementType.Float, 1)
            .Output("y", TensorElementType.Float, n, n)
            .Initializer("shape", new long[] { n, n }, 2)
            .Initializer("w", Enumerable.Range(0, n * n).Select(i => (i % 5) * 0.0001f).ToArray(), n, n)
            .Node("Expand", ["x", "shape"], ["h0"]);
        for (int i = 0; i < nodes; i++)
        {
            builder.Node("MatMul", [$"h{i}", "w"], [i == nodes - 1 ? "y" : $"h{i + 1}"]);
        }

        return builder;
    }

    private void Write(string model, int version, ModelBuilder onnx)
    {
        string dir = Path.Combine(_root, model, version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        onnx.Save(Path.Combine(dir, "model.onnx"));
    }
}
