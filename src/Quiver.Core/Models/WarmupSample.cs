using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using Quiver.Onnx;

namespace Quiver.Core.Models;

/// <summary>
/// The inputs each instance runs once before a version serves, from config.json's
/// <c>"warmup": {"inputs": {"input": [[0.5, 1.5]]}}</c>: one nested JSON array per model input, its nesting the shape.
/// Used instead of zeros when a model's first run should look like real traffic (or zeros are not a valid input).
/// </summary>
/// <param name="Inputs">The sample tensors, in the order config.json lists them.</param>
public sealed record WarmupSample(IReadOnlyList<WarmupInput> Inputs)
{
    private const string Example = "{\"inputs\": {\"input\": [[0.5, 1.5]]}}";

    /// <summary>Reads the object form of "warmup"; problems are added to <paramref name="errors"/> and null returned.</summary>
    internal static WarmupSample? Parse(JsonElement value, List<string> errors)
    {
        int before = errors.Count;
        if (value.EnumerateObject().Any(p => p.Name != "inputs"))
        {
            errors.Add($"'warmup' knows only 'inputs', as in {Example}");
        }

        if (!value.TryGetProperty("inputs", out JsonElement inputs) || inputs.ValueKind != JsonValueKind.Object || !inputs.EnumerateObject().Any())
        {
            errors.Add($"'warmup.inputs' must map each model input to a nested array of its values, as in {Example}");
            return null;
        }

        var parsed = new List<WarmupInput>();
        foreach (JsonProperty input in inputs.EnumerateObject())
        {
            string where = $"'warmup.inputs.{input.Name}'";
            var shape = new List<long>();
            var values = new List<JsonElement>();
            int valueDepth = -1;
            if (input.Value.ValueKind != JsonValueKind.Array)
            {
                errors.Add($"{where} must be a (nested) array of values, e.g. [[0.5, 1.5]] for shape [1, 2]");
            }
            else if (Flatten(input.Value, 0, shape, values, ref valueDepth) is { } problem)
            {
                errors.Add($"{where} {problem}");
            }
            else
            {
                parsed.Add(new WarmupInput(input.Name, [.. shape], [.. values.Select(v => v.Clone())]));
            }
        }

        return errors.Count == before ? new WarmupSample(parsed) : null;
    }

    /// <summary>
    /// The sample as tensors for the model's inputs, checked against them: every input given, none unknown, shapes
    /// matching the fixed dimensions, values of the input's type. Throws <see cref="ModelConfigException"/> naming each problem.
    /// </summary>
    public NamedTensor[] ToTensors(IReadOnlyList<Quiver.Onnx.TensorInfo> modelInputs)
    {
        var errors = new List<string>();
        string known = string.Join(", ", modelInputs.Select(i => $"{i.Name} {i.ElementType} [{string.Join(", ", i.Shape)}]"));
        foreach (WarmupInput unknown in Inputs.Where(s => modelInputs.All(i => i.Name != s.Name)))
        {
            errors.Add($"'warmup.inputs.{unknown.Name}' names no input of the model (its inputs: {known})");
        }

        var tensors = new List<NamedTensor>();
        foreach (Quiver.Onnx.TensorInfo info in modelInputs)
        {
            WarmupInput? sample = Inputs.FirstOrDefault(s => s.Name == info.Name);
            if (sample is null)
            {
                errors.Add($"'warmup.inputs' has no value for the model's input '{info.Name}' ({info.ElementType} [{string.Join(", ", info.Shape)}]); every input needs one");
            }
            else if (sample.ToTensor(info, errors) is { } tensor)
            {
                tensors.Add(new NamedTensor(info.Name, tensor));
            }
        }

        if (errors.Count > 0)
        {
            throw new ModelConfigException("config.json: the warm-up sample does not fit the model: " + string.Join("; ", errors) + ".");
        }

        return [.. tensors];
    }

    // Depth-first over nested arrays: the first array at each depth fixes that dimension and the first value fixes
    // the depth values sit at; every other array and value must agree.
    private static string? Flatten(JsonElement array, int depth, List<long> shape, List<JsonElement> values, ref int valueDepth)
    {
        int length = array.GetArrayLength();
        if (depth == shape.Count)
        {
            shape.Add(length);
        }
        else if (shape[depth] != length)
        {
            return $"is not rectangular: arrays at depth {depth + 1} have {shape[depth]} and {length} elements";
        }

        foreach (JsonElement element in array.EnumerateArray())
        {
            if (element.ValueKind == JsonValueKind.Array)
            {
                if (valueDepth >= 0 && depth + 1 >= valueDepth)
                {
                    return "is not rectangular: it mixes arrays and values at the same depth";
                }

                if (Flatten(element, depth + 1, shape, values, ref valueDepth) is { } problem)
                {
                    return problem;
                }
            }
            else if (valueDepth >= 0 && valueDepth != depth + 1 || shape.Count > depth + 1)
            {
                return "is not rectangular: it mixes arrays and values at the same depth";
            }
            else
            {
                valueDepth = depth + 1;
                values.Add(element);
            }
        }

        return null;
    }
}

/// <summary>One input of a <see cref="WarmupSample"/>: its shape (from the nesting) and its values, flattened in row-major order.</summary>
public sealed record WarmupInput(string Name, long[] Shape, JsonElement[] Values)
{
    internal Quiver.Onnx.TensorValue? ToTensor(Quiver.Onnx.TensorInfo info, List<string> errors)
    {
        string where = $"'warmup.inputs.{Name}'";
        string shapes = $"has shape [{string.Join(", ", Shape)}], but the model's input '{Name}' is [{string.Join(", ", info.Shape)}] (-1: any size)";
        if (Shape.Length != info.Shape.Length || Shape.Where((d, i) => info.Shape[i] >= 0 && info.Shape[i] != d).Any())
        {
            errors.Add($"{where} {shapes}");
            return null;
        }

        if (info.ElementType == TensorElementType.String)
        {
            int bad = Array.FindIndex(Values, v => v.ValueKind != JsonValueKind.String);
            if (bad >= 0)
            {
                errors.Add($"{where}: element {bad} is {Values[bad].GetRawText()}, but the input is STRING and needs strings");
                return null;
            }

            return Quiver.Onnx.TensorValue.FromStrings(Shape, Array.ConvertAll(Values, v => v.GetString()!));
        }

        int size = ElementTypes.SizeOf(info.ElementType);
        if (size == 0 || info.ElementType is TensorElementType.Float16 or TensorElementType.BFloat16)
        {
            errors.Add($"{where}: a warm-up sample for a {info.ElementType} input is not supported; use \"warmup\": true (zeros) for this model");
            return null;
        }

        var data = new byte[Values.Length * size];
        for (int i = 0; i < Values.Length; i++)
        {
            if (!TryWrite(info.ElementType, Values[i], data.AsSpan(i * size, size)))
            {
                errors.Add($"{where}: element {i} is {Values[i].GetRawText()}, which is not a {info.ElementType} value" +
                    (info.ElementType == TensorElementType.Bool ? " (true or false)" : " (a number in the type's range)"));
                return null;
            }
        }

        return Quiver.Onnx.TensorValue.FromBytes(info.ElementType, Shape, data);
    }

    // Little-endian, the layout ONNX Runtime reads on the platforms Quiver runs on.
    private static bool TryWrite(TensorElementType type, JsonElement value, Span<byte> target)
    {
        if (type == TensorElementType.Bool)
        {
            if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return false;
            }

            target[0] = value.GetBoolean() ? (byte)1 : (byte)0;
            return true;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            return false;
        }

        switch (type)
        {
            case TensorElementType.Float when value.TryGetSingle(out float f) && float.IsFinite(f):
                BinaryPrimitives.WriteSingleLittleEndian(target, f);
                return true;
            case TensorElementType.Double when value.TryGetDouble(out double d):
                BinaryPrimitives.WriteDoubleLittleEndian(target, d);
                return true;
            case TensorElementType.Int8 when value.TryGetSByte(out sbyte i8):
                target[0] = unchecked((byte)i8);
                return true;
            case TensorElementType.UInt8 when value.TryGetByte(out byte u8):
                target[0] = u8;
                return true;
            case TensorElementType.Int16 when value.TryGetInt16(out short i16):
                BinaryPrimitives.WriteInt16LittleEndian(target, i16);
                return true;
            case TensorElementType.UInt16 when value.TryGetUInt16(out ushort u16):
                BinaryPrimitives.WriteUInt16LittleEndian(target, u16);
                return true;
            case TensorElementType.Int32 when value.TryGetInt32(out int i32):
                BinaryPrimitives.WriteInt32LittleEndian(target, i32);
                return true;
            case TensorElementType.UInt32 when value.TryGetUInt32(out uint u32):
                BinaryPrimitives.WriteUInt32LittleEndian(target, u32);
                return true;
            case TensorElementType.Int64 when value.TryGetInt64(out long i64):
                BinaryPrimitives.WriteInt64LittleEndian(target, i64);
                return true;
            case TensorElementType.UInt64 when value.TryGetUInt64(out ulong u64):
                BinaryPrimitives.WriteUInt64LittleEndian(target, u64);
                return true;
            default:
                return false;
        }
    }
}
