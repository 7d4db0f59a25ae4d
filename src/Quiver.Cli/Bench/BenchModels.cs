using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Cli.Bench;

/// <summary>The models <c>quiver bench models</c> writes: built from fixed seeds, so every machine benchmarks the same bytes.</summary>
public static class BenchModels
{
    /// <summary>Largest batch every bench model accepts (config.json <c>max_batch_size</c>).</summary>
    public const int MaxBatchSize = 128;

    private const string Batch = "batch";

    // Fixed, not the assembly version: the files must not change when nothing in them did.
    private const string ProducerVersion = "1";

    // Noise of standard deviation 0.6 on prototypes uniform in ±1 (standard deviation 0.58): a task the float32 model
    // gets about 99% right, so some samples lie near a class boundary, as in real validation data (docs/optimization.md).
    private static readonly PrototypeTask TransformerTask = new(TransformerSequence, TransformerWidth, TransformerClasses, noise: 0.6, seed: 129);

    /// <summary>The bench models, smallest first.</summary>
    public static IReadOnlyList<BenchModel> All { get; } =
    [
        new("bench_small", "MLP 64 → 256 ReLU → 10", Seed: 64, () => Mlp("bench_small", 64, 256, 10, seed: 64)),
        new("bench_wide", "MLP 256 → 1024 ReLU → 10", Seed: 256, () => Mlp("bench_wide", 256, 1024, 10, seed: 256)),
        new("bench_heavy", $"CNN 3×32×32 → {HeavyConvLayers} × (Conv 3×3, {HeavyChannels} channels, ReLU) → global average pool → 10",
            Seed: 1000, () => ConvNet("bench_heavy", seed: 1000)),
        new("bench_transformer", $"transformer-style block: sequence {TransformerSequence} × width {TransformerWidth}, self-attention, " +
            $"LayerNormalization, feed-forward {4 * TransformerWidth} ReLU → mean → 10", Seed: 128, () => Transformer("bench_transformer", seed: 128),
            WriteSamples: path => TransformerTask.WriteSamples(path, ValidationSamples, seed: 130)),
    ];

    /// <summary>
    /// The labelled samples <see cref="WriteRepository"/> writes in the folder of a model whose classifier was fitted to a
    /// task (bench_transformer): a NumPy .npy of inputs, sample i of class i mod the number of classes.
    /// </summary>
    public const string ValidationFile = "validation.npy";

    private const int ValidationSamples = 2048;
    private const int TransformerClasses = 10;

    // Sized so the seven weight MatMuls (about 6.6 M multiply-adds per inference) dominate, as in a real encoder layer.
    private const int TransformerSequence = 32;
    private const int TransformerWidth = 128;

    // 5 layers of 64 channels on 32×32 (about 153 M multiply-adds) take 1.08 to 1.15 ms per single-thread
    // inference (p50 of `quiver bench raw --batch 1 --threads 1`, three runs) on the AMD EPYC of docs/benchmarks.md;
    // 4 layers took 0.82 ms, and 56 channels ran slower per multiply-add than 64.
    private const int HeavyConvLayers = 5;
    private const int HeavyChannels = 64;

    /// <summary>Writes every bench model as <c>&lt;name&gt;/1/model.onnx</c> and <c>&lt;name&gt;/config.json</c> under <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> WriteRepository(string directory)
    {
        var written = new List<string>();
        foreach (BenchModel model in All)
        {
            string folder = Path.Combine(directory, model.Name);
            string modelPath = Path.Combine(folder, "1", "model.onnx");
            Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
            model.Build().Save(modelPath);
            // Only max_batch_size: batching settings belong to the dynamic batcher's own keys (see bench/README.md).
            File.WriteAllText(Path.Combine(folder, "config.json"), $"{{\"max_batch_size\": {MaxBatchSize}}}\n");
            model.WriteSamples?.Invoke(Path.Combine(folder, ValidationFile));
            written.Add(modelPath);
        }

        return written;
    }

    /// <summary>Input "input" FP32 [batch, inputs] → Gemm → ReLU → Gemm → output "output" FP32 [batch, outputs].</summary>
    public static ModelBuilder Mlp(string name, int inputs, int hidden, int outputs, int seed)
    {
        var weights = new SeededWeights(seed);
        return Describe(new ModelBuilder(name), name, $"{inputs} → {hidden} ReLU → {outputs}, weights from seed {seed}")
            .Input("input", TensorElementType.Float, Batch, inputs)
            .Initializer("w1", weights.Matrix(inputs, hidden))
            .Initializer("b1", weights.Bias(hidden))
            .Initializer("w2", weights.Matrix(hidden, outputs))
            .Initializer("b2", weights.Bias(outputs))
            .Node("Gemm", ["input", "w1", "b1"], ["hidden_linear"])
            .Node("Relu", ["hidden_linear"], ["hidden"])
            .Node("Gemm", ["hidden", "w2", "b2"], ["output"])
            .Output("output", TensorElementType.Float, Batch, outputs);
    }

    /// <summary>
    /// Input "input" FP32 [batch, 3, 32, 32] → convolutions 3×3 (padding 1) with ReLU → GlobalAveragePool → Flatten
    /// → Gemm → output "output" FP32 [batch, 10].
    /// </summary>
    public static ModelBuilder ConvNet(string name, int seed, int layers = HeavyConvLayers, int channels = HeavyChannels)
    {
        var weights = new SeededWeights(seed);
        var builder = Describe(new ModelBuilder(name), name,
                $"3×32×32 → {layers} × (Conv 3×3, {channels} channels, ReLU) → average pool → 10, weights from seed {seed}")
            .Input("input", TensorElementType.Float, Batch, 3, 32, 32);
        string previous = "input";
        int inChannels = 3;
        for (int layer = 0; layer < layers; layer++)
        {
            string w = $"conv{layer}_w", b = $"conv{layer}_b", linear = $"conv{layer}_linear", activated = $"conv{layer}";
            builder.Initializer(w, weights.Kernel(channels, inChannels, 3), channels, inChannels, 3, 3)
                .Initializer(b, weights.Bias(channels))
                .Node("Conv", [previous, w, b], [linear],
                    OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("pads", 1, 1, 1, 1))
                .Node("Relu", [linear], [activated]);
            previous = activated;
            inChannels = channels;
        }

        return builder
            .Node("GlobalAveragePool", [previous], ["pooled"])
            .Node("Flatten", ["pooled"], ["features"], OnnxAttribute.Int("axis", 1))
            .Initializer("fc_w", weights.Matrix(channels, 10))
            .Initializer("fc_b", weights.Bias(10))
            .Node("Gemm", ["features", "fc_w", "fc_b"], ["output"])
            .Output("output", TensorElementType.Float, Batch, 10);
    }

    /// <summary>
    /// Input "input" FP32 [batch, 32, 128] → one encoder block (<see cref="SampleModels.TransformerBlock"/>) → output
    /// "logits" FP32 [batch, 10]: random block weights, the classifier fitted to <see cref="PrototypeTask"/>'s classes.
    /// </summary>
    public static ModelBuilder Transformer(string name, int seed)
    {
        var weights = new SeededWeights(seed);
        TransformerWeights random = TransformerWeights.Create(TransformerWidth, TransformerClasses, weights.Matrix, weights.Bias);
        return Describe(SampleModels.TransformerBlock(TransformerSequence, TransformerTask.FitClassifier(random)), name,
            $"encoder block {TransformerSequence} × {TransformerWidth}, weights from seed {seed}, classifier fitted to the classes of {ValidationFile}");
    }

    private static ModelBuilder Describe(ModelBuilder builder, string name, string description) =>
        builder.Producer("quiver-bench", ProducerVersion)
            .Domain("ai.quiver.bench")
            .ModelVersion(1)
            .DocString($"{name}: a benchmark model of random weights, {description}.");
}

/// <summary>
/// One bench model: its repository name, what it computes, the seed of its weights, how to build it, and for a
/// classifier fitted to a task, how to write that task's labelled validation samples.
/// </summary>
public sealed record BenchModel(string Name, string Description, int Seed, Func<ModelBuilder> Build, Action<string>? WriteSamples = null);
