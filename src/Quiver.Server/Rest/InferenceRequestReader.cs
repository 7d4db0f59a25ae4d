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
    public static InferenceRequest Read(ReadOnlySpan<byte> json, string model, string? version)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
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
                    parameters = ReadParameters(ref reader, "request");
                    break;
                case "inputs":
                    inputs = ReadArray(ref reader, "\"inputs\"", json.Length, ReadInput);
                    break;
                case "outputs":
                    outputs = ReadArray(ref reader, "\"outputs\"", json.Length, ReadOutput);
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

    private delegate T ElementReader<T>(ref Utf8JsonReader reader, int index, int jsonLength);

    private static List<T> ReadArray<T>(ref Utf8JsonReader reader, string what, int jsonLength, ElementReader<T> readElement)
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

            items.Add(readElement(ref reader, items.Count, jsonLength));
        }

        return items;
    }

    private static InferenceTensor ReadInput(ref Utf8JsonReader reader, int index, int jsonLength)
    {
        string? name = null;
        string? datatype = null;
        long[]? shape = null;
        Parameters parameters = Parameters.Empty;
        Utf8JsonReader data = default;
        bool hasData = false;
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
                    parameters = ReadParameters(ref reader, label);
                    break;
                case "data":
                    data = reader; // a copy positioned at "data", decoded below once datatype and shape are known
                    hasData = true;
                    reader.Skip();
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

        if (datatype is null || shape is null || !hasData)
        {
            string missing = datatype is null ? "datatype" : shape is null ? "shape" : "data";
            throw Invalid($"{label} has no \"{missing}\"");
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

        data.Read();
        var decoder = new TensorDataReader(label, type, count, jsonLength);
        decoder.ReadData(ref data);
        if (decoder.Count != count)
        {
            throw Invalid($"{label} has shape {Shapes.Format(shape)}, which needs {count} elements, but data has {decoder.Count}");
        }

        return type == DataType.Bytes
            ? new InferenceTensor(name, shape, decoder.TakeStrings(), parameters)
            : new InferenceTensor(name, type, shape, decoder.TakeBytes(), parameters);
    }

    private static RequestedOutput ReadOutput(ref Utf8JsonReader reader, int index, int jsonLength)
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
                    parameters = ReadParameters(ref reader, $"output {index}");
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

    private static Parameters ReadParameters(ref Utf8JsonReader reader, string owner)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Invalid($"{owner} \"parameters\" must be an object");
        }

        var values = new Dictionary<string, object>();
        while (ReadProperty(ref reader, out string key))
        {
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
}
