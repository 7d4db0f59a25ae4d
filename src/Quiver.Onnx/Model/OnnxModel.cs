using Google.Protobuf;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Model;

/// <summary>Reads and writes ONNX model files as <see cref="ModelProto"/> messages, for inspection and graph rewriting.</summary>
public static class OnnxModel
{
    // Protobuf caps a message at 2 GiB; larger models keep weights as external data, which this library does not read yet.
    private const int MaxBytesInMemory = int.MaxValue;

    /// <summary>Loads a model file.</summary>
    /// <exception cref="OnnxModelFormatException">The file is not a parsable ONNX model.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static ModelProto Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var length = new FileInfo(path).Length;
        if (length > MaxBytesInMemory)
        {
            throw new OnnxModelFormatException(path, $"{length} bytes exceeds the 2 GiB protobuf limit; store weights as external data.");
        }

        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Loads a model from its serialized bytes (e.g. an upload); <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="OnnxModelFormatException">The bytes are not a parsable ONNX model.</exception>
    public static ModelProto Load(byte[] bytes, string source = "<buffer>") => Parse(bytes, source);

    /// <summary>Parses a serialized model; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="OnnxModelFormatException">The bytes are not a parsable ONNX model.</exception>
    public static ModelProto Parse(ReadOnlySpan<byte> bytes, string source = "<buffer>")
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxModelFormatException(source, e.Message, e);
        }

        // Random bytes sometimes parse as a protobuf message; a model without these is no model.
        if (!model.HasIrVersion || model.IrVersion <= 0)
        {
            throw new OnnxModelFormatException(source, "ir_version is missing.");
        }

        if (model.Graph is null)
        {
            throw new OnnxModelFormatException(source, "the graph is missing.");
        }

        return model;
    }

    /// <summary>Serializes a model; fields this library does not model are written back unchanged.</summary>
    public static byte[] ToBytes(ModelProto model) => model.ToByteArray();

    /// <summary>Writes a model atomically: to a temporary file in the same directory, then renamed over <paramref name="path"/>.</summary>
    /// <remarks>Readers (a server hot-reloading the repository) see the old file or the new one, never half of one.</remarks>
    public static void Save(ModelProto model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);

        var tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                model.WriteTo(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(tempPath, fullPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(tempPath))
            {
                File.Delete(tempPath);
            }
        }
    }

    /// <summary>The value of a metadata_props entry, or null when absent.</summary>
    public static string? GetMetadata(ModelProto model, string key) =>
        model.MetadataProps.FirstOrDefault(p => p.Key == key)?.Value;

    /// <summary>The opset version imported for a domain ("" is the default ONNX domain), or null when not imported.</summary>
    public static long? GetOpset(ModelProto model, string domain = "")
    {
        foreach (var opset in model.OpsetImport)
        {
            // An absent domain and "ai.onnx" both mean the default domain.
            var d = opset.Domain == "ai.onnx" ? "" : opset.Domain;
            if (d == domain)
            {
                return opset.Version;
            }
        }

        return null;
    }

    /// <summary>
    /// Every tensor that keeps its data in an external file, in graph order: initializers, sparse initializers and
    /// node attributes, subgraphs (If, Loop, Scan bodies) included. Model-local functions are not modelled, so not searched.
    /// </summary>
    public static IReadOnlyList<ExternalDataReference> ExternalDataReferences(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var found = new List<ExternalDataReference>();
        if (model.Graph is not null)
        {
            AddExternalData(model.Graph, found);
        }

        return found;
    }

    private static void AddExternalData(GraphProto graph, List<ExternalDataReference> found)
    {
        foreach (var tensor in graph.Initializer)
        {
            AddExternalData(tensor, found);
        }

        foreach (var sparse in graph.SparseInitializer)
        {
            AddExternalData(sparse, found);
        }

        foreach (var node in graph.Node)
        {
            foreach (var attribute in node.Attribute)
            {
                AddExternalData(attribute.T, found);
                AddExternalData(attribute.SparseTensor, found);
                foreach (var tensor in attribute.Tensors)
                {
                    AddExternalData(tensor, found);
                }

                foreach (var sparse in attribute.SparseTensors)
                {
                    AddExternalData(sparse, found);
                }

                if (attribute.G is not null)
                {
                    AddExternalData(attribute.G, found);
                }

                foreach (var subgraph in attribute.Graphs)
                {
                    AddExternalData(subgraph, found);
                }
            }
        }
    }

    private static void AddExternalData(SparseTensorProto? sparse, List<ExternalDataReference> found)
    {
        AddExternalData(sparse?.Values, found);
        AddExternalData(sparse?.Indices, found);
    }

    private static void AddExternalData(TensorProto? tensor, List<ExternalDataReference> found)
    {
        // ONNX Runtime reads external data only when data_location says so, but entries without it are listed too:
        // a caller deciding what a model may reach should see every path it names.
        if (tensor is null
            || (tensor.DataLocation != TensorProto.Types.DataLocation.External && tensor.ExternalData.Count == 0))
        {
            return;
        }

        var location = tensor.ExternalData.FirstOrDefault(e => e.Key == "location")?.Value ?? "";
        found.Add(new ExternalDataReference(tensor.Name, location));
    }
}
