using Google.Protobuf;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Model;

/// <summary>Builds an ONNX model fluently: model metadata, graph inputs and outputs, initializers and nodes.</summary>
/// <example>
/// <code>
/// var model = new ModelBuilder("doubler")
///     .Input("x", TensorElementType.Float, "batch", 4)
///     .Initializer("two", [2f], 1)
///     .Node("Mul", ["x", "two"], ["y"])
///     .Output("y", TensorElementType.Float, "batch", 4)
///     .Build();
/// </code>
/// </example>
public sealed class ModelBuilder
{
    /// <summary>IR version written by default: 8 (ONNX 1.10+), read by every ONNX Runtime since 1.10.</summary>
    public const long DefaultIrVersion = 8;

    /// <summary>Default-domain opset written by default: 17 (ONNX 1.12), within IR version 8.</summary>
    public const long DefaultOpset = 17;

    /// <summary>Producer name written unless <see cref="Producer"/> is called.</summary>
    public const string DefaultProducerName = "quiver";

    private readonly ModelProto _model;
    private readonly GraphProto _graph;
    private readonly Dictionary<string, long> _opsets = new(StringComparer.Ordinal) { [""] = DefaultOpset };
    private readonly Dictionary<string, int> _nodeNameCounts = new(StringComparer.Ordinal);

    /// <summary>Starts a model whose graph has the given name.</summary>
    public ModelBuilder(string graphName = "main")
    {
        ArgumentException.ThrowIfNullOrEmpty(graphName);
        _graph = new GraphProto { Name = graphName };
        _model = new ModelProto
        {
            IrVersion = DefaultIrVersion,
            ProducerName = DefaultProducerName,
            ProducerVersion = typeof(ModelBuilder).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        };
    }

    /// <summary>Sets the IR version (defaults to <see cref="DefaultIrVersion"/>).</summary>
    public ModelBuilder IrVersion(long version)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 3);
        _model.IrVersion = version;
        return this;
    }

    /// <summary>Sets the default-domain ("ai.onnx") opset version (defaults to <see cref="DefaultOpset"/>).</summary>
    public ModelBuilder Opset(long version) => ImportOpset("", version);

    /// <summary>Imports an operator set, e.g. ("com.microsoft", 1) or ("ai.onnx.ml", 3); a domain imported twice keeps the last version.</summary>
    public ModelBuilder ImportOpset(string domain, long version)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        _opsets[domain] = version;
        return this;
    }

    /// <summary>Sets the producer name and version (defaults to "quiver" and this assembly's version).</summary>
    public ModelBuilder Producer(string name, string version)
    {
        _model.ProducerName = name;
        _model.ProducerVersion = version;
        return this;
    }

    /// <summary>Sets the model's reverse-DNS domain, e.g. "ai.quiver.examples".</summary>
    public ModelBuilder Domain(string domain)
    {
        _model.Domain = domain;
        return this;
    }

    /// <summary>Sets the model version number stored in the file.</summary>
    public ModelBuilder ModelVersion(long version)
    {
        _model.ModelVersion = version;
        return this;
    }

    /// <summary>Sets the model's human-readable description.</summary>
    public ModelBuilder DocString(string docString)
    {
        _model.DocString = docString;
        return this;
    }

    /// <summary>Sets the graph's human-readable description.</summary>
    public ModelBuilder GraphDocString(string docString)
    {
        _graph.DocString = docString;
        return this;
    }

    /// <summary>Adds or replaces a custom metadata entry (ONNX metadata_props).</summary>
    public ModelBuilder Metadata(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        var existing = _model.MetadataProps.FirstOrDefault(p => p.Key == key);
        if (existing is not null)
        {
            existing.Value = value;
        }
        else
        {
            _model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return this;
    }

    /// <summary>Declares a graph input tensor; each dim is a size or a symbolic name (<c>"batch", 4</c>).</summary>
    public ModelBuilder Input(string name, TensorElementType type, params Dim[] dims) =>
        Input(OnnxTypes.ValueInfo(name, OnnxTypes.Tensor(type, dims)));

    /// <summary>Declares a graph input of any type (tensor, sequence, map).</summary>
    public ModelBuilder Input(ValueInfoProto input)
    {
        _graph.Input.Add(input);
        return this;
    }

    /// <summary>Declares a graph output tensor; each dim is a size or a symbolic name (<c>"batch", 3</c>).</summary>
    public ModelBuilder Output(string name, TensorElementType type, params Dim[] dims) =>
        Output(OnnxTypes.ValueInfo(name, OnnxTypes.Tensor(type, dims)));

    /// <summary>Declares a graph output of any type (tensor, sequence, map).</summary>
    public ModelBuilder Output(ValueInfoProto output)
    {
        _graph.Output.Add(output);
        return this;
    }

    /// <summary>Declares the type of an intermediate value (ONNX value_info), which helps shape inference and tools.</summary>
    public ModelBuilder ValueInfo(string name, TensorElementType type, params Dim[] dims)
    {
        _graph.ValueInfo.Add(OnnxTypes.ValueInfo(name, OnnxTypes.Tensor(type, dims)));
        return this;
    }

    /// <summary>Adds a numeric initializer; dims default to [values.Length] (use <see cref="ScalarInitializer"/> for rank 0).</summary>
    /// <typeparam name="T">float, double, Half, sbyte, byte, short, ushort, int, uint, long, ulong or bool.</typeparam>
    public ModelBuilder Initializer<T>(string name, T[] values, params long[] dims)
        where T : unmanaged =>
        Initializer(OnnxTensors.Create<T>(name, values, dims.Length == 0 ? [values.Length] : dims));

    /// <summary>Adds a matrix initializer with dims [rows, columns].</summary>
    public ModelBuilder Initializer<T>(string name, T[,] values)
        where T : unmanaged
    {
        var flat = new T[values.Length];
        var columns = values.GetLength(1);
        for (var r = 0; r < values.GetLength(0); r++)
        {
            for (var c = 0; c < columns; c++)
            {
                flat[(r * columns) + c] = values[r, c];
            }
        }

        return Initializer(OnnxTensors.Create<T>(name, flat, [values.GetLength(0), columns]));
    }

    /// <summary>Adds a STRING initializer; dims default to one dimension of <c>values.Length</c>.</summary>
    public ModelBuilder Initializer(string name, string[] values, params long[] dims) =>
        Initializer(OnnxTensors.Create(name, values, dims.Length == 0 ? [values.Length] : dims));

    /// <summary>Adds a rank-0 (scalar) numeric initializer.</summary>
    public ModelBuilder ScalarInitializer<T>(string name, T value)
        where T : unmanaged =>
        Initializer(OnnxTensors.Create<T>(name, [value], []));

    /// <summary>Adds a prepared initializer tensor (e.g. from <see cref="OnnxTensors.CreateBFloat16"/>).</summary>
    public ModelBuilder Initializer(TensorProto tensor)
    {
        ArgumentException.ThrowIfNullOrEmpty(tensor.Name, nameof(tensor));
        _graph.Initializer.Add(tensor);
        return this;
    }

    /// <summary>Adds a default-domain node named after its operator ("gemm_0", "gemm_1", ...).</summary>
    public ModelBuilder Node(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        var prefix = opType.ToLowerInvariant();
        _nodeNameCounts.TryGetValue(prefix, out var index);
        _nodeNameCounts[prefix] = index + 1;

        var node = new NodeProto { OpType = opType, Name = $"{prefix}_{index}" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return Node(node);
    }

    /// <summary>Adds a prepared node (custom name, domain or doc string); nodes must be added in topological order.</summary>
    public ModelBuilder Node(NodeProto node)
    {
        ArgumentException.ThrowIfNullOrEmpty(node.OpType, nameof(node));
        _graph.Node.Add(node);
        return this;
    }

    /// <summary>Checks the graph's wiring and returns a new model message; the builder can keep building afterwards.</summary>
    /// <exception cref="InvalidOperationException">Listing every wiring error: duplicate or undefined names, unproduced outputs.</exception>
    public ModelProto Build()
    {
        var errors = GraphWiring.Check(_graph);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(
                $"Graph '{_graph.Name}' is not well formed:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", errors));
        }

        var model = _model.Clone();
        model.Graph = _graph.Clone();
        // Default domain first, then by name: the file's bytes must not depend on call order.
        foreach (var (domain, version) in _opsets.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }

        return model;
    }

    /// <summary>Builds and serializes the model.</summary>
    public byte[] ToBytes() => Build().ToByteArray();

    /// <summary>Builds the model and writes it atomically to <paramref name="path"/>.</summary>
    public void Save(string path) => OnnxModel.Save(Build(), path);
}
