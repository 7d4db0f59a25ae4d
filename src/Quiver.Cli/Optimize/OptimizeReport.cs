using Quiver.Onnx.Optimization;

namespace Quiver.Cli.Optimize;

/// <summary>The result of <c>quiver optimize</c>; its JSON form (snake_case) is documented in docs/optimization.md.</summary>
/// <param name="Mode">"int8-dynamic", "fp16" or "graph-basic|extended|all".</param>
/// <param name="Options">The transform's settings as given, e.g. per_channel = true.</param>
/// <param name="SizeRatio">Output bytes ÷ input bytes.</param>
/// <param name="Written">Whether the output model was written (false when a limit failed).</param>
/// <param name="Accuracy">The comparison; null when nothing changed.</param>
/// <param name="Speed">The measurement; null when nothing changed or with --no-bench.</param>
public sealed record OptimizeReport(
    int Schema,
    string Mode,
    IReadOnlyDictionary<string, string> Options,
    string InputModel,
    long InputBytes,
    string OutputModel,
    long OutputBytes,
    double SizeRatio,
    bool Written,
    IReadOnlyList<string> ChangedNodes,
    IReadOnlyList<SkippedNode> SkippedNodes,
    IReadOnlyList<string> Warnings,
    AccuracyReport? Accuracy,
    LimitReport Limits,
    SpeedReport? Speed)
{
    /// <summary>Bumped whenever a field changes meaning or goes away.</summary>
    public const int CurrentSchema = 1;
}

/// <summary>The accuracy limits asked for, and whether the optimized model kept within them.</summary>
/// <param name="MaxAccuracyDrop">--max-accuracy-drop: the largest allowed fraction of samples whose top-1 class changed.</param>
/// <param name="MaxAbsDiff">--max-abs-diff: the largest allowed |optimized − original| of any output element.</param>
/// <param name="Failures">One sentence per limit exceeded; empty when passed.</param>
public sealed record LimitReport(double? MaxAccuracyDrop, double? MaxAbsDiff, bool Passed, IReadOnlyList<string> Failures);
