namespace Quiver.Onnx.Optimization;

/// <summary>Which ops <see cref="Fp16Converter"/> leaves in float32.</summary>
public sealed record Fp16Options
{
    /// <summary>
    /// Ops kept in float32 by default because float16's 11-bit mantissa and ±65504 range hurt them: sums over many
    /// elements (the Reduce* family, and the normalizations that are built on them), exponentials and logarithms that
    /// overflow or lose the small values (Exp, Log, Pow, Softmax, LogSoftmax), and Range, whose float16 steps drift.
    /// </summary>
    public static IReadOnlySet<string> DefaultBlockedOpTypes { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "Softmax", "LogSoftmax", "Exp", "Log", "Pow",
        "ReduceSum", "ReduceMean", "ReduceProd", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
        "LayerNormalization", "InstanceNormalization", "GroupNormalization", "Range",
    };

    /// <summary>Op types kept in float32 with casts around them. Defaults to <see cref="DefaultBlockedOpTypes"/>.</summary>
    public IReadOnlyCollection<string> BlockedOpTypes { get; init; } = DefaultBlockedOpTypes;

    /// <summary>Node names kept in float32, in addition to <see cref="BlockedOpTypes"/>. Defaults to none.</summary>
    public IReadOnlyCollection<string> BlockedNodes { get; init; } = [];
}
