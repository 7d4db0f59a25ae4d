using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Quiver.Core.Tensors;

namespace Quiver.Cli.Bench;

/// <summary>
/// Reads <c>--input-data</c>: a KServe v2 JSON request body (<c>{"inputs": [{"name", "shape", "datatype", "data"}]}</c>,
/// datatype optional, data flat or nested) whose tensors every benchmark request then carries.
/// </summary>
public static class InputDataFile
{
    /// <summary>The file's inputs, in the file's order, each checked against the model's inputs.</summary>
    public static IReadOnlyList<InputTensor> Read(string path, ServedModelInfo model)
    {
        JsonElement root;
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
            root = document.RootElement.Clone();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new BenchException($"--input-data '{path}': {e.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("inputs", out JsonElement inputs) || inputs.ValueKind != JsonValueKind.Array)
        {
            throw new BenchException($"--input-data '{path}': expected a KServe v2 request, {{\"inputs\": [...]}}.");
        }

        var tensors = new List<InputTensor>();
        foreach (JsonElement input in inputs.EnumerateArray())
        {
            tensors.Add(ReadTensor(path, input, model));
        }

        var missing = model.Inputs.Where(i => tensors.All(t => t.Name != i.Name)).Select(i => i.Name).ToList();
        if (missing.Count > 0)
        {
            throw new BenchException($"--input-data '{path}' has no data for input(s) {string.Join(", ", missing)} of model '{model.Name}'.");
        }

        return tensors;
    }

    private static InputTensor ReadTensor(string path, JsonElement input, ServedModelInfo model)
    {
        string name = input.TryGetProperty("name", out JsonElement n) ? n.GetString() ?? "" : "";
        ServedInput declared = model.Inputs.FirstOrDefault(i => i.Name == name)
            ?? throw new BenchException($"--input-data '{path}': model '{model.Name}' has no input '{name}'; its inputs are {string.Join(", ", model.Inputs.Select(i => i.Name))}.");
        string datatype = input.TryGetProperty("datatype", out JsonElement d) ? d.GetString() ?? "" : declared.Datatype;
        if (!DataTypes.TryParse(datatype, out DataType type))
        {
            throw new BenchException($"--input-data '{path}': input '{name}' has unknown datatype '{datatype}'.");
        }

        if (!input.TryGetProperty("shape", out JsonElement shapeJson) || !input.TryGetProperty("data", out JsonElement data))
        {
            throw new BenchException($"--input-data '{path}': input '{name}' needs \"shape\" and \"data\".");
        }

        long[] shape = shapeJson.EnumerateArray().Select(x => x.GetInt64()).ToArray();
        var elements = new List<JsonElement>();
        Flatten(data, elements);
        long count = shape.Aggregate(1L, (c, x) => c * x);
        if (elements.Count != count)
        {
            throw new BenchException($"--input-data '{path}': input '{name}' has {elements.Count} elements, but shape {ArgumentValues.FormatShape(shape)} needs {count}.");
        }

        try
        {
            if (type == DataType.Bytes)
            {
                return new InputTensor(name, type, shape, [], elements.Select(e => Encoding.UTF8.GetBytes(e.GetString()!)).ToArray());
            }

            int size = type.ElementSize();
            var raw = new byte[elements.Count * size];
            for (int i = 0; i < elements.Count; i++)
            {
                Write(raw.AsSpan(i * size, size), type, elements[i]);
            }

            return new InputTensor(name, type, shape, raw);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException)
        {
            throw new BenchException($"--input-data '{path}': input '{name}' has an element that is not {datatype}: {e.Message}");
        }
    }

    private static void Flatten(JsonElement value, List<JsonElement> elements)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in value.EnumerateArray())
            {
                Flatten(item, elements);
            }
        }
        else
        {
            elements.Add(value);
        }
    }

    private static void Write(Span<byte> element, DataType type, JsonElement value)
    {
        switch (type)
        {
            case DataType.Bool:
                element[0] = value.GetBoolean() ? (byte)1 : (byte)0;
                break;
            case DataType.UInt8:
                element[0] = value.GetByte();
                break;
            case DataType.Int8:
                element[0] = (byte)value.GetSByte();
                break;
            case DataType.UInt16:
                BinaryPrimitives.WriteUInt16LittleEndian(element, value.GetUInt16());
                break;
            case DataType.Int16:
                BinaryPrimitives.WriteInt16LittleEndian(element, value.GetInt16());
                break;
            case DataType.UInt32:
                BinaryPrimitives.WriteUInt32LittleEndian(element, value.GetUInt32());
                break;
            case DataType.Int32:
                BinaryPrimitives.WriteInt32LittleEndian(element, value.GetInt32());
                break;
            case DataType.UInt64:
                BinaryPrimitives.WriteUInt64LittleEndian(element, value.GetUInt64());
                break;
            case DataType.Int64:
                BinaryPrimitives.WriteInt64LittleEndian(element, value.GetInt64());
                break;
            case DataType.Fp16:
                BinaryPrimitives.WriteHalfLittleEndian(element, (Half)value.GetSingle());
                break;
            case DataType.Bf16:
                BinaryPrimitives.WriteUInt16LittleEndian(element, (ushort)(BitConverter.SingleToUInt32Bits(value.GetSingle()) >> 16));
                break;
            case DataType.Fp32:
                BinaryPrimitives.WriteSingleLittleEndian(element, value.GetSingle());
                break;
            case DataType.Fp64:
                BinaryPrimitives.WriteDoubleLittleEndian(element, value.GetDouble());
                break;
            default:
                throw new FormatException($"unsupported datatype {type.Name()}");
        }
    }
}
