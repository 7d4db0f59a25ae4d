namespace Quiver.Onnx.Optimization;

/// <summary>How <see cref="DynamicQuantizer"/> quantizes weights and which nodes it leaves alone.</summary>
public sealed record DynamicQuantizationOptions
{
    /// <summary>The op types the quantizer rewrites: MatMul with a constant 2-D weight, and Gemm.</summary>
    public static IReadOnlyList<string> QuantizableOpTypes { get; } = ["MatMul", "Gemm"];

    /// <summary>One scale per output channel (weight column) instead of one per weight tensor. Defaults to false.</summary>
    public bool PerChannel { get; init; }

    /// <summary>Zero point 0 and a range symmetric around it; false fits [min, max] with a zero point. Defaults to true.</summary>
    public bool Symmetric { get; init; } = true;

    /// <summary>
    /// 7-bit weights, for x86 CPUs without VNNI whose u8×s8 dot product can saturate. Defaults to
    /// <see cref="Int8Cpu.ProductsSaturate"/>: on where this process runs on such a CPU.
    /// </summary>
    public bool ReduceRange { get; init; } = Int8Cpu.ProductsSaturate;

    /// <summary>Node names never quantized. Defaults to none.</summary>
    public IReadOnlyCollection<string> ExcludeNodes { get; init; } = [];

    /// <summary>Op types never quantized (e.g. "Gemm"). Defaults to none.</summary>
    public IReadOnlyCollection<string> ExcludeOpTypes { get; init; } = [];
}
