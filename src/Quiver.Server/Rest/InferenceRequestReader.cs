using System.Text;
using System.Text.Json;
using Quiver.Core.Tensors;

namespace Quiver.Server.Rest;

/// <summary>
/// Reads a v2 inference request with <see cref="Utf8JsonReader"/>: no document tree, tensor data decoded
/// straight into its final byte array. Members may come in any order; an input's "data" seen before its
/// "datatype" and "shape" is skipped and decoded once they are known.
/// </summary>
internal static class InferenceRequestReader
{
    /// <summary>
    /// Reads the JSON part of a request. <paramref name="binary"/> is the binary part of the binary tensor
    /// extension (empty without it): inputs with <c>parameters.binary_data_size</c> take their bytes from it, in
    /// order, without a copy, so the request is valid only as long as <paramref name="binary"/>'s memory.
    /// </summary>
    public static InferenceRequest Read(ReadOnlySpan<byte> json, ReadOnlyMemory<byte> binary, string model, string? version) =>
        Read(json, binary, model, version, JsonRequestLimits.Default, s_noSensitive);

    /// <summary>
    /// Reads a request within <paramref name="limits"/>. Error messages never echo values of the inputs named in
    /// <paramref name="sensitive"/>, since they may reach logs.
    /// </summary>
    public static InferenceRequest Read(ReadOnlySpan<byte> json, ReadOnlyMemory<byte> binary, string model, string? version,
        JsonRequestLimits limits, IReadOnlySet<string> sensitive)
    {
        var context = new ReadContext(binary, limits, sensitive);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = limits.MaxDepth });
        try
        {
            return ReadRequest(ref reader, context, model, version);
        }
        catch (JsonException) when (reader.CurrentDepth >= limits.MaxDepth - 1)
        {
            // The reader stops at the limit, on the last container it opened (whose own depth is one less); every other
            // JSON error keeps its own message ("malformed JSON: ...").
            throw Invalid($"the request nests objects and arrays deeper than the limit of {limits.MaxDepth} levels (--max-json-depth)");
        }
    }

    private static InferenceRequest ReadRequest(ref Utf8JsonReader reader, ReadContext context, string model, string? version)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw Invalid("the request body must be a JSON object with an \"inputs\" array");
        }

        string? id = null;
        Parameters parameters = Parameters.Empty;
        List<InferenceTensor>? inputs = null;
        List<RequestedOutput>? outputs = null;
        while (ReadProperty(ref reader, out string name))
        {
            switch (name)
            {
                case "id":
                    id = ReadString(ref reader, "request \"id\"");
                    break;
                case "parameters":
                    parameters = ReadParameters(ref reader, "request", context);
                    break;
                case "inputs":
                    inputs = ReadArray(ref reader, "\"inputs\"", context, ReadInput);
                    break;
                case "outputs":
                    outputs = ReadArray(ref reader, "\"outputs\"", context, ReadOutput);
                    break;
                default:
                    reader.Skip(); // clients send fields of later protocol versions; they are not errors
                    break;
            }
        }

        EnsureEnd(ref reader);
        if (inputs is null)
        {
            throw Invalid("the request has no \"inputs\" array");
        }

        if (context.BinaryLeft > 0)
        {
            throw Invalid($"{context.BinaryLeft} bytes of binary data follow the JSON header but no input's binary_data_size claims them");
        }

        return new InferenceRequest
        {
            Id = id,
            ModelName = model,
            ModelVersion = version,
            Inputs = inputs,
            Outputs = outputs,
            Parameters = parameters,
        };
    }

    private static readonly IReadOnlySet<string> s_noSensitive = new HashSet<string>();

    private delegate T ElementReader<T>(ref Utf8JsonReader reader, int index, ReadContext context);

    private static List<T> ReadArray<T>(ref Utf8JsonReader reader, string what, ReadContext context, ElementReader<T> readElement)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Invalid($"{what} must be an array of objects");
        }

        var items = new List<T>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw Invalid($"{what} must be an array of objects; element {items.Count} is {Describe(reader.TokenType)}");
            }

            context.Count(1);
            items.Add(readElement(ref reader, items.Count, context));
        }

        return items;
    }

    private static InferenceTensor ReadInput(ref Utf8JsonReader reader, int index, ReadContext context)
    {
        string? name = null;
        string? datatype = null;
        long[]? shape = null;
        Parameters parameters = Parameters.Empty;
        Utf8JsonReader data = default;
        bool hasData = false;
        long dataLength = 0;
        string label = $"input {index}";
        while (ReadProperty(ref reader, out string property))
        {
            switch (property)
            {
                case "name":
                    name = ReadString(ref reader, $"{label} \"name\"");
                    label = $"input '{name}'";
                    break;
                case "datatype":
                    datatype = ReadString(ref reader, $"{label} \"datatype\"");
                    break;
                case "shape":
                    shape = ReadShape(ref reader, label);
                    break;
                case "parameters":
                    parameters = ReadParameters(ref reader, label, context);
                    break;
                case "data":
                    data = reader; // a copy positioned at "data", decoded below once datatype and shape are known
                    hasData = true;
                    long start = reader.BytesConsumed;
                    reader.Skip();
                    dataLength = reader.BytesConsumed - start;
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        if (name is null)
        {
            throw Invalid($"{label} has no \"name\"");
        }

        bool binary = parameters.ContainsKey(BinaryDataSize);
        if (datatype is null || shape is null || !(hasData || binary))
        {
            string missing = datatype is null ? "datatype" : shape is null ? "shape" : "data";
            throw Invalid($"{label} has no \"{missing}\" (nor parameters.binary_data_size for binary data)");
        }

        if (hasData && binary)
        {
            throw Invalid($"{label} has both \"data\" and parameters.binary_data_size; send its elements one way");
        }

        if (!DataTypes.TryParse(datatype, out DataType type))
        {
            throw Invalid($"{label} has datatype '{datatype}'; expected one of {string.Join(", ", DataTypes.Names)}");
        }

        long count = Shapes.ElementCount(shape);
        if (count < 0)
        {
            throw Invalid($"{label} has shape {Shapes.Format(shape)}, whose element count does not fit in 64 bits");
        }

        if (binary)
        {
            return ReadBinaryInput(name, type, shape, count, parameters, label, context);
        }

        if (count > context.ElementsLeft)
        {
            throw Invalid($"{label} has shape {Shapes.Format(shape)} of {count} elements, beyond the {context.Limits.MaxElements} JSON elements " +
                "a request may carry (--max-json-elements); send large tensors with the binary tensor data extension");
        }

        data.Read();
        var decoder = new TensorDataReader(label, type, count, dataLength, context, context.Sensitive.Contains(name));
        decoder.ReadData(ref data);
        if (decoder.Count != count)
        {
            throw Invalid($"{label} has shape {Shapes.Format(shape)}, which needs {count} elements, but data has {decoder.Count}");
        }

        return type == DataType.Bytes
            ? new InferenceTensor(name, shape, decoder.TakeStrings(), parameters)
            : new InferenceTensor(name, type, shape, decoder.TakeBytes(), parameters);
    }

    private static InferenceTensor ReadBinaryInput(string name, DataType type, long[] shape, long count, Parameters parameters,
        string label, ReadContext context)
    {
        if (!parameters.TryGetInt64(BinaryDataSize, out long size, out _) || size < 0)
        {
            throw Invalid($"{label} parameters.binary_data_size must be a non-negative integer, got {parameters[BinaryDataSize]}");
        }

        if (size > context.BinaryLeft)
        {
            throw Invalid($"{label} has binary_data_size {size}, beyond the {context.BinaryLeft} bytes of binary data left after the JSON header");
        }

        ReadOnlyMemory<byte> bytes = context.TakeBinary((int)size);
        if (type == DataType.Bytes)
        {
            return new InferenceTensor(name, shape, LengthPrefixedBytes.Decode(bytes.Span, count, label), parameters);
        }

        long needed = count * type.ElementSize();
        return size == needed
            ? new InferenceTensor(name, type, shape, bytes, parameters) // no copy: the caller keeps the body alive until the response is written
            : throw Invalid($"{label} has binary_data_size {size}, but shape {Shapes.Format(shape)} of {type.Name()} needs {needed} bytes");
    }

    private static RequestedOutput ReadOutput(ref Utf8JsonReader reader, int index, ReadContext context)
    {
        string? name = null;
        Parameters parameters = Parameters.Empty;
        while (ReadProperty(ref reader, out string property))
        {
            switch (property)
            {
                case "name":
                    name = ReadString(ref reader, $"output {index} \"name\"");
                    break;
                case "parameters":
                    parameters = ReadParameters(ref reader, $"output {index}", context);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return new RequestedOutput(name ?? throw Invalid($"output {index} has no \"name\""), parameters);
    }

    private static long[] ReadShape(ref Utf8JsonReader reader, string label)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Invalid($"{label} \"shape\" must be an array of non-negative integers");
        }

        var dims = new List<long>(4);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long dim))
            {
                throw Invalid($"{label} \"shape\" must be an array of non-negative integers; dimension {dims.Count} is {Text(ref reader)}");
            }

            if (dim < 0)
            {
                throw Invalid($"{label} has a negative dimension {dim} in \"shape\"; dimensions must be 0 or more");
            }

            dims.Add(dim);
        }

        return [.. dims];
    }

    private static Parameters ReadParameters(ref Utf8JsonReader reader, string owner, ReadContext context)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Invalid($"{owner} \"parameters\" must be an object");
        }

        var values = new Dictionary<string, object>();
        while (ReadProperty(ref reader, out string key))
        {
            context.Count(1);
            reader.Read();
            values[key] = reader.TokenType switch
            {
                JsonTokenType.String => reader.GetString()!,
                JsonTokenType.Number when reader.TryGetInt64(out long l) => l,
                JsonTokenType.Number => reader.GetDouble(),
                JsonTokenType.True => true,
                JsonTokenType.False => false,
                _ => throw Invalid($"{owner} parameter '{key}' is {Describe(reader.TokenType)}; expected a string, number or boolean"),
            };
        }

        return values.Count == 0 ? Parameters.Empty : new Parameters(values);
    }

    /// <summary>Moves to the next property of the current object; false at its end.</summary>
    private static bool ReadProperty(ref Utf8JsonReader reader, out string name)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.EndObject)
        {
            name = "";
            return false;
        }

        name = reader.GetString()!;
        return true;
    }

    private static string ReadString(ref Utf8JsonReader reader, string what)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.String
            ? reader.GetString()!
            : throw Invalid($"{what} must be a string, not {Describe(reader.TokenType)}");
    }

    private static void EnsureEnd(ref Utf8JsonReader reader)
    {
        // Reading past the end makes the reader reject trailing content such as a second object.
        if (reader.Read())
        {
            throw Invalid("the request body has content after its JSON object");
        }
    }

    internal static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => token.ToString(),
    };

    private static string Text(ref Utf8JsonReader reader) =>
        reader.TokenType is JsonTokenType.Number or JsonTokenType.String
            ? Encoding.UTF8.GetString(reader.ValueSpan)
            : Describe(reader.TokenType);

    internal static InferenceException Invalid(string message) => InferenceException.InvalidArgument(message);

    /// <summary>The binary tensor extension's per-input parameter giving the byte count of its binary data.</summary>
    public const string BinaryDataSize = "binary_data_size";

    /// <summary>What reading one request needs besides the JSON: the binary part with a cursor, the limits and what they have left.</summary>
    internal sealed class ReadContext(ReadOnlyMemory<byte> binary, JsonRequestLimits limits, IReadOnlySet<string> sensitive)
    {
        private int _offset;
        private long _elements;

        public JsonRequestLimits Limits { get; } = limits;

        public IReadOnlySet<string> Sensitive { get; } = sensitive;

        /// <summary>JSON elements the request may still hold.</summary>
        public long ElementsLeft => Limits.MaxElements - _elements;

        /// <summary>Counts JSON elements read; throws once the request holds more than the limit.</summary>
        public void Count(long elements)
        {
            _elements += elements;
            if (_elements > Limits.MaxElements)
            {
                throw Invalid($"the request holds more than {Limits.MaxElements} JSON elements (tensor data, inputs, outputs and parameters), " +
                    "the limit of --max-json-elements; send large tensors with the binary tensor data extension");
            }
        }

        public int BinaryLeft => binary.Length - _offset;

        public ReadOnlyMemory<byte> TakeBinary(int size)
        {
            ReadOnlyMemory<byte> slice = binary.Slice(_offset, size);
            _offset += size;
            return slice;
        }
    }
}
