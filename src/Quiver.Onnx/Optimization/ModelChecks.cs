using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>The checks every transform makes before and after rewriting a model.</summary>
public static class ModelChecks
{
    /// <summary>Throws unless every tensor's data is inside the model: a transform must read the weights it rewrites.</summary>
    /// <exception cref="ModelOptimizationException">Naming the first tensors kept in external files.</exception>
    public static void RequireEmbeddedWeights(ModelProto model)
    {
        IReadOnlyList<ExternalDataReference> external = OnnxModel.ExternalDataReferences(model);
        if (external.Count > 0)
        {
            string listed = string.Join(", ", external.Take(3).Select(e => $"'{e.Tensor}' in '{e.Location}'"));
            throw new ModelOptimizationException(
                $"the model keeps {external.Count} tensor(s) in external data files ({listed}{(external.Count > 3 ? ", ..." : "")}); " +
                "optimization needs every weight inside the .onnx file, so models over 2 GiB are not supported.");
        }
    }

    /// <summary>Throws when a rewritten graph's names do not connect: a bug in the transform, never the user's input.</summary>
    /// <exception cref="InvalidOperationException">Listing every wiring error.</exception>
    public static void RequireWellFormed(GraphProto graph, string transform)
    {
        IReadOnlyList<string> errors = GraphWiring.Check(graph);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException($"{transform} produced a malformed graph:{Environment.NewLine}  " +
                string.Join(Environment.NewLine + "  ", errors));
        }
    }
}
