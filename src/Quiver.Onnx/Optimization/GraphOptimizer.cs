using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>
/// ONNX Runtime's own graph optimizations (constant folding, node fusions, layout changes) run once, offline, with the
/// result saved as a model, so a server skips them at load time (<see cref="SessionSettings.OptimizedModelPath"/>).
/// </summary>
public static class GraphOptimizer
{
    /// <summary>Optimizes a model at <paramref name="level"/> and returns the graph ONNX Runtime would run.</summary>
    /// <exception cref="ModelOptimizationException">Weights are in external files.</exception>
    /// <exception cref="OnnxRuntimeException">ONNX Runtime rejects the model.</exception>
    public static OptimizationResult Optimize(ModelProto model, GraphOptimizationLevel level, OnnxRuntime? runtime = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (level == GraphOptimizationLevel.DisableAll)
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "an optimization level is needed.");
        }

        ModelChecks.RequireEmbeddedWeights(model);
        string path = Path.Combine(Path.GetTempPath(), $"quiver-graph-{Guid.NewGuid():N}.onnx");
        ModelProto optimized;
        try
        {
            var settings = new SessionSettings { OptimizationLevel = level, OptimizedModelPath = path };
            using (InferenceSession.FromBytes(OnnxModel.ToBytes(model), settings, runtime))
            {
            }

            optimized = OnnxModel.Load(path);
        }
        finally
        {
            File.Delete(path);
        }

        var before = model.Graph.Node.Select(Signature).ToHashSet(StringComparer.Ordinal);
        var after = optimized.Graph.Node.Select(Signature).ToHashSet(StringComparer.Ordinal);
        bool changed = !before.SetEquals(after)
            || !model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal)
                .SetEquals(optimized.Graph.Initializer.Select(t => t.Name));
        if (!changed)
        {
            return new OptimizationResult(model, [], []);
        }

        // Named for what they became: "FusedGemm fused_gemm_0".
        var created = optimized.Graph.Node.Where(n => !before.Contains(Signature(n))).Select(n => $"{n.OpType} {GraphNames.Describe(n)}").ToList();
        var warnings = new List<string>
        {
            $"the file is specific to ONNX Runtime {(runtime ?? OnnxRuntime.Instance).Version}: its fused ops (domain com.microsoft) run on ONNX Runtime, not on other ONNX tools.",
        };
        if (level >= GraphOptimizationLevel.Layout)
        {
            warnings.Add("level 'all' includes layout changes chosen for this CPU's instruction set; run the file on the same kind of CPU.");
        }

        return new OptimizationResult(optimized, created.Count > 0 ? created : ["(initializers folded)"], []) { Warnings = warnings };
    }

    private static string Signature(NodeProto node) => $"{node.Domain}:{node.OpType}:{node.Name}:{string.Join(",", node.Input)}>{string.Join(",", node.Output)}";
}
