using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Quiver.Cli.Bench;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Cli.Optimize;

/// <summary>
/// The samples the original and the optimized model are compared on: read from <c>--validation</c> or generated.
/// <list type="bullet">
/// <item>JSON lines (<c>.jsonl</c>, <c>.json</c>): one sample per line, <c>{"input_name": [...], ...}</c> with every model
/// input, each a nested (or, when the sample shape is fixed, flat) array without the batch dimension; a model with one
/// input also takes a bare array per line.</item>
/// <item>NumPy <c>.npy</c> (single-input models): one array [samples, ...sample shape], C order, little-endian.</item>
/// </list>
/// </summary>
public static partial class ValidationData
{
    /// <summary>Reads a validation or calibration file, checking every sample against the model's inputs.</summary>
    /// <param name="option">The option that named the file, for messages: "--validation" or "--calibration".</param>
    public static IReadOnlyList<Sample> Read(string path, IReadOnlyList<TensorInfo> inputs, int maxSamples, string option = "--validation")
    {
        RequireBatchedNumeric(inputs);
        if (!File.Exists(path))
        {
            throw new OptimizeException($"{option} '{path}' does not exist.");
        }

        IReadOnlyList<Sample> samples = Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase)
            ? ReadNpy(path, inputs, maxSamples, option)
            : ReadJsonLines(path, inputs, maxSamples, option);
        return samples.Count > 0 ? samples : throw new OptimizeException($"{option} '{path}' holds no samples.");
    }

    /// <summary>
    /// <paramref name="count"/> samples from a seeded generator: floats uniform in [0, 1), integers in [0, 100),
    /// booleans; a symbolic dimension other than the batch takes size 1.
    /// </summary>
    public static IReadOnlyList<Sample> Generate(IReadOnlyList<TensorInfo> inputs, int count, int seed)
    {
        RequireBatchedNumeric(inputs);
        var random = new Random(seed);
        var samples = new List<Sample>(count);
        for (int s = 0; s < count; s++)
        {
            var tensors = new Dictionary<string, SampleTensor>(StringComparer.Ordinal);
            foreach (TensorInfo input in inputs)
            {
                long[] shape = input.Shape[1..].Select(d => d < 0 ? 1 : d).ToArray();
                DataTypes.TryFromOnnx(input.ElementType, out DataType type);
                tensors[input.Name] = new SampleTensor(input.ElementType, shape, RandomTensorData.Create(input.Name, type, shape, random).Raw);
            }

            samples.Add(new Sample(tensors));
        }

        return samples;
    }

    private static void RequireBatchedNumeric(IReadOnlyList<TensorInfo> inputs)
    {
        foreach (TensorInfo input in inputs)
        {
            if (input.ElementType == TensorElementType.String || !DataTypes.TryFromOnnx(input.ElementType, out _))
            {
                throw new OptimizeException($"input '{input.Name}' is {input.ElementType}; only numeric and boolean inputs can be compared.");
            }

            if (input.Shape.Length == 0)
            {
                throw new OptimizeException($"input '{input.Name}' is a scalar; comparison needs a leading batch dimension on every input.");
            }
        }
    }

    private static List<Sample> ReadJsonLines(string path, IReadOnlyList<TensorInfo> inputs, int maxSamples, string option)
    {
        var samples = new List<Sample>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            if (samples.Count == maxSamples)
            {
                break;
            }

            string where = $"{option} '{path}' line {lineNumber}";
            try
            {
                using JsonDocument document = JsonDocument.Parse(line);
                samples.Add(ReadSample(document.RootElement, inputs, where));
            }
            catch (JsonException e)
            {
                throw new OptimizeException($"{where}: not JSON: {e.Message}");
            }
        }

        return samples;
    }

    private static Sample ReadSample(JsonElement root, IReadOnlyList<TensorInfo> inputs, string where)
    {
        var tensors = new Dictionary<string, SampleTensor>(StringComparer.Ordinal);
        if (root.ValueKind == JsonValueKind.Array && inputs.Count == 1)
        {
            tensors[inputs[0].Name] = ReadTensor(root, inputs[0], where);
            return new Sample(tensors);
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new OptimizeException($"{where}: expected an object of input name → array{(inputs.Count == 1 ? " or an array" : "")}.");
        }

        foreach (JsonProperty property in root.EnumerateObject())
        {
            TensorInfo input = inputs.FirstOrDefault(i => i.Name == property.Name)
                ?? throw new OptimizeException($"{where}: the model has no input '{property.Name}'; its inputs are {Names(inputs)}.");
            tensors[input.Name] = ReadTensor(property.Value, input, where);
        }

        var missing = inputs.Where(i => !tensors.ContainsKey(i.Name)).Select(i => i.Name).ToList();
        return missing.Count == 0 ? new Sample(tensors)
            : throw new OptimizeException($"{where}: no data for input(s) {string.Join(", ", missing)}.");
    }

    private static SampleTensor ReadTensor(JsonElement value, TensorInfo input, string where)
    {
        long[] declared = input.Shape[1..];
        var elements = new List<JsonElement>();
        long[] shape = NestedShape(value, elements, $"{where}: input '{input.Name}'");
        if (shape.Length == 1 && declared.Length != 1 && declared.All(d => d >= 0) && elements.Count == Product(declared))
        {
            shape = declared; // a flat array for a fixed sample shape
        }

        bool fits = shape.Length == declared.Length && shape.Zip(declared).All(p => p.Second < 0 || p.First == p.Second);
        if (!fits)
        {
            throw new OptimizeException(
                $"{where}: input '{input.Name}' has sample shape {ArgumentValues.FormatShape(shape)}, but the model expects {FormatSampleShape(declared)} (the batch dimension left out).");
        }

        int size = ElementSize(input.ElementType);
        var data = new byte[elements.Count * size];
        for (int i = 0; i < elements.Count; i++)
        {
            try
            {
                Encode(data.AsSpan(i * size, size), input.ElementType, elements[i]);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or OverflowException)
            {
                throw new OptimizeException($"{where}: input '{input.Name}' element {i} is not {input.ElementType}: {elements[i].GetRawText()}.");
            }
        }

        return new SampleTensor(input.ElementType, shape, data);
    }

    // The shape of a rectangular nested array; its leaves in row-major order go to elements.
    private static long[] NestedShape(JsonElement value, List<JsonElement> elements, string where)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            elements.Add(value);
            return [];
        }

        long[]? inner = null;
        int length = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            long[] shape = NestedShape(item, elements, where);
            if (inner is not null && !inner.SequenceEqual(shape))
            {
                throw new OptimizeException($"{where} is a ragged array; every row must have the same length.");
            }

            inner = shape;
            length++;
        }

        return [length, .. inner ?? []];
    }

    private static void Encode(Span<byte> element, TensorElementType type, JsonElement value)
    {
        switch (type)
        {
            case TensorElementType.Float: BinaryPrimitives.WriteSingleLittleEndian(element, value.GetSingle()); break;
            case TensorElementType.Double: BinaryPrimitives.WriteDoubleLittleEndian(element, value.GetDouble()); break;
            case TensorElementType.Float16: BinaryPrimitives.WriteHalfLittleEndian(element, (Half)value.GetSingle()); break;
            case TensorElementType.BFloat16:
                BinaryPrimitives.WriteUInt16LittleEndian(element, Quiver.Onnx.Model.OnnxTensors.SingleToBFloat16Bits(value.GetSingle()));
                break;
            case TensorElementType.Bool: element[0] = value.GetBoolean() ? (byte)1 : (byte)0; break;
            case TensorElementType.Int8: element[0] = (byte)value.GetSByte(); break;
            case TensorElementType.UInt8: element[0] = value.GetByte(); break;
            case TensorElementType.Int16: BinaryPrimitives.WriteInt16LittleEndian(element, value.GetInt16()); break;
            case TensorElementType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(element, value.GetUInt16()); break;
            case TensorElementType.Int32: BinaryPrimitives.WriteInt32LittleEndian(element, value.GetInt32()); break;
            case TensorElementType.UInt32: BinaryPrimitives.WriteUInt32LittleEndian(element, value.GetUInt32()); break;
            case TensorElementType.Int64: BinaryPrimitives.WriteInt64LittleEndian(element, value.GetInt64()); break;
            case TensorElementType.UInt64: BinaryPrimitives.WriteUInt64LittleEndian(element, value.GetUInt64()); break;
            default: throw new FormatException($"{type} is not supported");
        }
    }

    private static List<Sample> ReadNpy(string path, IReadOnlyList<TensorInfo> inputs, int maxSamples, string option)
    {
        string where = $"{option} '{path}'";
        if (inputs.Count != 1)
        {
            throw new OptimizeException($"{where}: a .npy file holds one array, but the model has {inputs.Count} inputs ({Names(inputs)}); use JSON lines.");
        }

        TensorInfo input = inputs[0];
        byte[] bytes = File.ReadAllBytes(path);
        // Format: "\x93NUMPY", major, minor, header length (2 bytes in version 1, 4 in 2 and 3), a Python dict literal, data.
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
        {
            throw new OptimizeException($"{where}: not a NumPy .npy file (no \\x93NUMPY magic).");
        }

        int headerLength = bytes[6] == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        int headerStart = bytes[6] == 1 ? 10 : 12;
        string header = Encoding.Latin1.GetString(bytes, headerStart, Math.Min(headerLength, bytes.Length - headerStart));
        Match descr = DescrPattern().Match(header), fortran = FortranPattern().Match(header), shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !shapeMatch.Success)
        {
            throw new OptimizeException($"{where}: unreadable .npy header {header.Trim()}.");
        }

        if (fortran.Success && fortran.Groups[1].Value == "True")
        {
            throw new OptimizeException($"{where}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray.");
        }

        long[] shape = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        long[] declared = input.Shape[1..];
        if (shape.Length != declared.Length + 1 || !shape[1..].Zip(declared).All(p => p.Second < 0 || p.First == p.Second))
        {
            throw new OptimizeException(
                $"{where}: array shape {ArgumentValues.FormatShape(shape)} does not match input '{input.Name}': expected [samples, {FormatSampleShape(declared).Trim('[', ']')}].");
        }

        (TensorElementType fileType, int fileSize) = NpyType(descr.Groups[1].Value, where);
        bool widen = fileType == TensorElementType.Double && input.ElementType == TensorElementType.Float;
        if (fileType != input.ElementType && !widen)
        {
            throw new OptimizeException($"{where}: the array is {fileType} ('{descr.Groups[1].Value}'), but input '{input.Name}' is {input.ElementType}.");
        }

        long perSample = Product(shape[1..]);
        int count = (int)Math.Min(shape[0], maxSamples);
        int dataStart = headerStart + headerLength;
        if (bytes.Length - dataStart < shape[0] * perSample * fileSize)
        {
            throw new OptimizeException($"{where}: the file is shorter than its shape {ArgumentValues.FormatShape(shape)} says.");
        }

        var samples = new List<Sample>(count);
        int size = ElementSize(input.ElementType);
        for (int s = 0; s < count; s++)
        {
            var data = new byte[perSample * size];
            ReadOnlySpan<byte> source = bytes.AsSpan(dataStart + (int)(s * perSample * fileSize), (int)(perSample * fileSize));
            if (widen)
            {
                // NumPy's default float64 is narrowed to the model's float32.
                for (int i = 0; i < perSample; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), (float)BinaryPrimitives.ReadDoubleLittleEndian(source[(i * 8)..]));
                }
            }
            else
            {
                source.CopyTo(data);
            }

            samples.Add(new Sample(new Dictionary<string, SampleTensor> { [input.Name] = new(input.ElementType, shape[1..], data) }));
        }

        return samples;
    }

    private static (TensorElementType Type, int Size) NpyType(string descr, string where) => descr switch
    {
        "<f4" => (TensorElementType.Float, 4),
        "<f8" => (TensorElementType.Double, 8),
        "<f2" => (TensorElementType.Float16, 2),
        "|i1" => (TensorElementType.Int8, 1),
        "|u1" => (TensorElementType.UInt8, 1),
        "<i2" => (TensorElementType.Int16, 2),
        "<u2" => (TensorElementType.UInt16, 2),
        "<i4" => (TensorElementType.Int32, 4),
        "<u4" => (TensorElementType.UInt32, 4),
        "<i8" => (TensorElementType.Int64, 8),
        "<u8" => (TensorElementType.UInt64, 8),
        "|b1" => (TensorElementType.Bool, 1),
        _ => throw new OptimizeException($"{where}: dtype '{descr}' is not supported (little-endian numbers and bool only)."),
    };

    private static int ElementSize(TensorElementType type) => Quiver.Onnx.Model.OnnxTensors.ElementSize(type);

    private static long Product(IEnumerable<long> dims) => dims.Aggregate(1L, (a, b) => a * b);

    private static string FormatSampleShape(long[] declared) => "[" + string.Join(',', declared.Select(d => d < 0 ? "?" : d.ToString(CultureInfo.InvariantCulture))) + "]";

    private static string Names(IReadOnlyList<TensorInfo> inputs) => string.Join(", ", inputs.Select(i => i.Name));

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
