using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>The rewritten model, the nodes a transform changed, and those it left alone with the reason.</summary>
/// <param name="Model">The new model; equal to the input when <see cref="Changed"/> is empty.</param>
/// <param name="Changed">Names (or op types, when unnamed) of the nodes that were rewritten, in graph order.</param>
/// <param name="Skipped">Nodes the transform could have rewritten but did not, each with the reason.</param>
public sealed record OptimizationResult(ModelProto Model, IReadOnlyList<string> Changed, IReadOnlyList<SkippedNode> Skipped)
{
    /// <summary>Things the caller should know that are not errors, e.g. an excluded node name the graph does not have.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Whether the transform rewrote anything.</summary>
    public bool IsChanged => Changed.Count > 0;
}

/// <summary>A node a transform left unchanged.</summary>
public sealed record SkippedNode(string Node, string OpType, string Reason);
