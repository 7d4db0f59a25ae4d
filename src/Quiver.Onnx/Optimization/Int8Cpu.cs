using System.Runtime.Intrinsics.X86;

namespace Quiver.Onnx.Optimization;

/// <summary>How this CPU multiplies int8 matrices, which decides whether int8 weights should keep all 8 bits.</summary>
public static class Int8Cpu
{
    /// <summary>
    /// Whether ONNX Runtime's u8 × s8 products can saturate here: x86 without VNNI (AVX2 only) adds pairs of products
    /// into 16-bit sums that clip, which costs a model of full-range weights percent points of top-1 agreement; with
    /// 7-bit weights (<see cref="DynamicQuantizationOptions.ReduceRange"/>) the sums fit. VNNI and Arm accumulate in
    /// 32 bits, where full range is both safe and more precise.
    /// </summary>
    public static bool ProductsSaturate { get; } = X86Base.IsSupported && !HasVnni();

    // .NET exposes AVX-VNNI and AVX10 (which includes AVX-512 VNNI) but not AVX-512 VNNI alone, as on Zen 4 or Ice Lake:
    // on Linux the kernel's CPU flags say.
    private static bool HasVnni() =>
        AvxVnni.IsSupported || Avx10v1.IsSupported || LinuxCpuFlags().Contains("avx512_vnni");

    private static IReadOnlySet<string> LinuxCpuFlags()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
            return line is null ? new HashSet<string>() : line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new HashSet<string>();
        }
    }
}
