using Quiver.Onnx;
using Quiver.Onnx.Optimization;

namespace Quiver.Cli.Optimize;

/// <summary>The transform <c>quiver optimize</c> applies.</summary>
public enum OptimizeMode
{
    /// <summary>--int8-dynamic: int8 weights, activations quantized at run time.</summary>
    Int8Dynamic,

    /// <summary>--int8-static: int8 weights, activations quantized with calibrated ranges (QDQ).</summary>
    Int8Static,

    /// <summary>--fp16: float16 weights and compute, float32 interface.</summary>
    Fp16,

    /// <summary>--graph: ONNX Runtime's offline graph optimization.</summary>
    Graph,
}

/// <summary>Everything <c>quiver optimize</c> was asked to do, validated by <see cref="OptimizeCommand"/>.</summary>
public sealed record OptimizeSettings
{
    public required string ModelPath { get; init; }

    public required string OutputPath { get; init; }

    public required OptimizeMode Mode { get; init; }

    public DynamicQuantizationOptions Quantization { get; init; } = new();

    public Fp16Options Fp16 { get; init; } = new();

    /// <summary>The --graph level: Basic, Extended or All.</summary>
    public GraphOptimizationLevel GraphLevel { get; init; } = GraphOptimizationLevel.Extended;

    /// <summary>--calibration: JSON lines or .npy of representative inputs, for --int8-static.</summary>
    public string? CalibrationPath { get; init; }

    /// <summary>How calibration turns observed values into ranges. Defaults to min-max.</summary>
    public CalibrationMethod CalibrationMethod { get; init; } = CalibrationMethod.MinMax;

    /// <summary>The upper percentile for <see cref="CalibrationMethod.Percentile"/>. Defaults to 99.99.</summary>
    public double Percentile { get; init; } = 99.99;

    /// <summary>--validation: JSON lines or .npy; null compares on the calibration data (--int8-static) or generated inputs.</summary>
    public string? ValidationPath { get; init; }

    /// <summary>Samples generated, or the most read from --validation. Defaults to 256.</summary>
    public int Samples { get; init; } = 256;

    /// <summary>Seed of generated inputs. Defaults to 42.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>--max-accuracy-drop: the largest allowed fraction of samples whose top-1 class changes.</summary>
    public double? MaxAccuracyDrop { get; init; }

    /// <summary>--max-abs-diff: the largest allowed |optimized − original| of any output element.</summary>
    public double? MaxAbsDiff { get; init; }

    /// <summary>--report: where the JSON report goes; null writes none.</summary>
    public string? ReportPath { get; init; }

    /// <summary>Batch sizes measured. Defaults to 1 and 32.</summary>
    public IReadOnlyList<int> BenchBatches { get; init; } = [1, 32];

    /// <summary>Measured time per model and batch size. Defaults to 3 s.</summary>
    public TimeSpan BenchDuration { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Whether to measure speed at all (--no-bench turns it off).</summary>
    public bool Bench { get; init; } = true;

    /// <summary>ONNX Runtime intra-op threads per session; 0 lets ORT choose (one per core). Defaults to 0.</summary>
    public int Threads { get; init; }

    /// <summary>Samples per comparison batch when the model's batch dimension is open.</summary>
    public const int ComparisonBatch = 32;
}
