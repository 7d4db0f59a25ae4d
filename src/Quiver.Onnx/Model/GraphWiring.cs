using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Model;

/// <summary>Checks that a graph's names connect: every value defined once, every consumed value defined before use.</summary>
public static class GraphWiring
{
    /// <summary>Every wiring error in the graph (empty when well formed); subgraphs are not descended into.</summary>
    public static IReadOnlyList<string> Check(GraphProto graph)
    {
        var errors = new List<string>();
        var defined = new HashSet<string>(StringComparer.Ordinal);

        foreach (var input in graph.Input)
        {
            if (!defined.Add(input.Name))
            {
                errors.Add($"input '{input.Name}' is declared twice.");
            }
        }

        // An initializer may share its name with an input: the input then overrides the default value.
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var initializer in graph.Initializer)
        {
            if (!initializers.Add(initializer.Name))
            {
                errors.Add($"initializer '{initializer.Name}' is declared twice.");
            }

            defined.Add(initializer.Name);
        }

        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input)
            {
                // An empty name is the specification's marker for an omitted optional input.
                if (input.Length > 0 && !defined.Contains(input))
                {
                    errors.Add($"node '{node.Name}' ({node.OpType}) reads '{input}', which nothing before it defines.");
                }
            }

            foreach (var output in node.Output)
            {
                if (output.Length > 0 && !defined.Add(output))
                {
                    errors.Add($"node '{node.Name}' ({node.OpType}) writes '{output}', which is already defined.");
                }
            }
        }

        if (graph.Output.Count == 0)
        {
            errors.Add("the graph has no outputs.");
        }

        foreach (var output in graph.Output)
        {
            if (!defined.Contains(output.Name))
            {
                errors.Add($"output '{output.Name}' is not produced by any node, input or initializer.");
            }
        }

        return errors;
    }
}
