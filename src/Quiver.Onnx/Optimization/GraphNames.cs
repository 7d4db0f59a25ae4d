using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>
/// The value and node names a graph already uses, subgraphs included, so a rewrite can add names that collide with
/// none of them: "w1_quantized", then "w1_quantized_1", ...
/// </summary>
internal sealed class GraphNames
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public GraphNames(GraphProto graph) => Collect(graph);

    /// <summary>A name starting with <paramref name="stem"/> that nothing in the graph uses yet, reserved from now on.</summary>
    public string Unique(string stem)
    {
        string name = stem;
        for (int i = 1; !_used.Add(name); i++)
        {
            name = $"{stem}_{i}";
        }

        return name;
    }

    /// <summary>Every value a node of the graph or of any subgraph reads, plus the graph's outputs.</summary>
    public static HashSet<string> Referenced(GraphProto graph)
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        AddReferences(graph, referenced);
        foreach (ValueInfoProto output in graph.Output)
        {
            referenced.Add(output.Name);
        }

        return referenced;
    }

    /// <summary>The name a node is known by in messages: its name, or its op type and first output when unnamed.</summary>
    public static string Describe(NodeProto node) =>
        node.Name.Length > 0 ? node.Name : $"{node.OpType} → {node.Output.FirstOrDefault() ?? "?"}";

    private static void AddReferences(GraphProto graph, HashSet<string> referenced)
    {
        foreach (NodeProto node in graph.Node)
        {
            foreach (string input in node.Input)
            {
                if (input.Length > 0)
                {
                    referenced.Add(input);
                }
            }

            foreach (AttributeProto attribute in node.Attribute)
            {
                if (attribute.G is not null)
                {
                    AddReferences(attribute.G, referenced);
                }

                foreach (GraphProto subgraph in attribute.Graphs)
                {
                    AddReferences(subgraph, referenced);
                }
            }
        }
    }

    private void Collect(GraphProto graph)
    {
        foreach (ValueInfoProto value in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo))
        {
            _used.Add(value.Name);
        }

        foreach (TensorProto initializer in graph.Initializer)
        {
            _used.Add(initializer.Name);
        }

        foreach (NodeProto node in graph.Node)
        {
            _used.Add(node.Name);
            _used.UnionWith(node.Input);
            _used.UnionWith(node.Output);
            foreach (AttributeProto attribute in node.Attribute)
            {
                if (attribute.G is not null)
                {
                    Collect(attribute.G);
                }

                foreach (GraphProto subgraph in attribute.Graphs)
                {
                    Collect(subgraph);
                }
            }
        }
    }
}
