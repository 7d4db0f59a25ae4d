using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Quiver.Core.Tensors;

namespace Quiver.Server.Rest;

/// <summary>
/// Decodes one input's "data" (flat or nested row-major arrays) into little-endian bytes of its datatype,
/// checking every element fits. Storage is bounded by the size of the "data" array's own JSON, so a hostile
/// shape cannot make it allocate more than the array holds; elements beyond the shape are counted, not stored.
/// Elements count against the request's <see cref="JsonRequestLimits.MaxElements"/>.
/// </summary>
internal sealed class TensorDataReader
{
    private readonly string _label;
    private readonly DataType _type;
    private readonly int _size;
    private readonly byte[] _bytes;
    private readonly byte[][] _strings;
    private readonly long _capacity;
    private readonly InferenceRequestReader.ReadContext _context;
    private readonly bool _sensitive;

    /// <param name="dataJsonLength">Bytes of the "data" array's JSON.</param>
    /// <param name="sensitive">Whether the input is sensitive: error messages then never show its values.</param>
    public TensorDataReader(string label, DataType type, long expected, long dataJsonLength, InferenceRequestReader.ReadContext context, bool sensitive)
    {
        _label = label;
        _type = type;
        _size = type.ElementSize();
        _context = context;
        _sensitive = sensitive;

        // Every element takes at least one byte of JSON plus a separator, so the array's JSON bounds the count.
        _capacity = Math.Min(expected, (dataJsonLength / 2) + 1);
        _bytes = type == DataType.Bytes ? [] : new byte[_capacity * _size];
        _strings = type == DataType.Bytes ? new byte[_capacity][] : [];
    }

    /// <summary>Elements read so far.</summary>
    public long Count { get; private set; }

    public byte[] TakeBytes() => _bytes;

    public byte[][] TakeStrings() => _strings;

    /// <summary>Reads the array the reader is positioned on, with any nesting.</summary>
    public void ReadData(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Invalid($"{_label} \"data\" must be an array, not {InferenceRequestReader.Describe(reader.TokenType)}");
        }

        int depth = 1;
        while (depth > 0 && reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    depth++;
                    break;
                case JsonTokenType.EndArray:
                    depth--;
                    break;
                default:
                    _context.Count(1);
                    ReadElement(ref reader);
                    Count++;
                    break;
            }
        }
    }

    private void ReadElement(ref Utf8JsonReader reader)
    {
        bool store = Count < _capacity;
        int offset = (int)Math.Min(Count, _capacity) * _size;
        Span<byte> target = store && _size > 0 ? _bytes.AsSpan(offset, _size) : [];
        switch (_type)
        {
            case DataType.Bytes:
                if (reader.TokenType != JsonTokenType.String)
                {
                    throw Mismatch(ref reader, "a string");
                }

                if (store)
                {
                    _strings[Count] = ReadUtf8(ref reader);
                }

                return;
            case DataType.Bool:
                if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
                {
                    throw Mismatch(ref reader, "true or false");
                }

                if (store)
                {
                    target[0] = reader.TokenType == JsonTokenType.True ? (byte)1 : (byte)0;
                }

                return;
        }

        if (reader.TokenType != JsonTokenType.Number)
        {
            throw Mismatch(ref reader, "a number");
        }

        if (!store)
        {
            return;
        }

        switch (_type)
        {
            case DataType.UInt8:
                target[0] = (byte)ReadInteger(ref reader, byte.MinValue, byte.MaxValue);
                break;
            case DataType.Int8:
                target[0] = (byte)(sbyte)ReadInteger(ref reader, sbyte.MinValue, sbyte.MaxValue);
                break;
            case DataType.UInt16:
                BinaryPrimitives.WriteUInt16LittleEndian(target, (ushort)ReadInteger(ref reader, ushort.MinValue, ushort.MaxValue));
                break;
            case DataType.Int16:
                BinaryPrimitives.WriteInt16LittleEndian(target, (short)ReadInteger(ref reader, short.MinValue, short.MaxValue));
                break;
            case DataType.UInt32:
                BinaryPrimitives.WriteUInt32LittleEndian(target, (uint)ReadInteger(ref reader, uint.MinValue, uint.MaxValue));
                break;
            case DataType.Int32:
                BinaryPrimitives.WriteInt32LittleEndian(target, (int)ReadInteger(ref reader, int.MinValue, int.MaxValue));
                break;
            case DataType.Int64:
                BinaryPrimitives.WriteInt64LittleEndian(target, ReadInteger(ref reader, long.MinValue, long.MaxValue));
                break;
            case DataType.UInt64:
                if (!reader.TryGetUInt64(out ulong u))
                {
                    throw DoesNotFit(ref reader);
                }

                BinaryPrimitives.WriteUInt64LittleEndian(target, u);
                break;
            case DataType.Fp16:
                Half half = (Half)ReadSingle(ref reader);
                if (Half.IsInfinity(half))
                {
                    throw DoesNotFit(ref reader);
                }

                BinaryPrimitives.WriteHalfLittleEndian(target, half);
                break;
            case DataType.Bf16:
                BinaryPrimitives.WriteUInt16LittleEndian(target, ToBFloat16(ref reader, ReadSingle(ref reader)));
                break;
            case DataType.Fp32:
                BinaryPrimitives.WriteSingleLittleEndian(target, ReadSingle(ref reader));
                break;
            case DataType.Fp64:
                if (!reader.TryGetDouble(out double d) || !double.IsFinite(d))
                {
                    throw DoesNotFit(ref reader);
                }

                BinaryPrimitives.WriteDoubleLittleEndian(target, d);
                break;
        }
    }

    private long ReadInteger(ref Utf8JsonReader reader, long min, long max)
    {
        if (reader.TryGetInt64(out long value) && value >= min && value <= max)
        {
            return value;
        }

        throw DoesNotFit(ref reader);
    }

    private float ReadSingle(ref Utf8JsonReader reader)
    {
        if (reader.TryGetSingle(out float value) && float.IsFinite(value))
        {
            return value;
        }

        throw DoesNotFit(ref reader);
    }

    // bfloat16 is the upper half of a float32, rounded to nearest even.
    private ushort ToBFloat16(ref Utf8JsonReader reader, float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        ushort result = (ushort)(rounded >> 16);
        if ((result & 0x7F80) == 0x7F80)
        {
            throw DoesNotFit(ref reader);
        }

        return result;
    }

    private static byte[] ReadUtf8(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return reader.ValueSpan.ToArray();
        }

        // Unescaped text is never longer than its escaped form.
        byte[] buffer = new byte[reader.ValueSpan.Length];
        int length = reader.CopyString(buffer);
        return buffer[..length];
    }

    private InferenceException Mismatch(ref Utf8JsonReader reader, string expected) =>
        Invalid($"{_label} element {Count} is {InferenceRequestReader.Describe(reader.TokenType)}; expected {expected} for {_type.Name()}");

    private InferenceException DoesNotFit(ref Utf8JsonReader reader)
    {
        if (_sensitive)
        {
            return Invalid($"{_label} element {Count} does not fit in {_type.Name()} (the value is not shown: {_label} is sensitive)");
        }

        string text = Encoding.UTF8.GetString(reader.ValueSpan);
        bool integral = _type is not (DataType.Fp16 or DataType.Bf16 or DataType.Fp32 or DataType.Fp64);
        string why = integral && (text.Contains('.') || text.Contains('e') || text.Contains('E'))
            ? $"; expected an integer for {_type.Name()}"
            : $", which does not fit in {_type.Name()}";
        return Invalid($"{_label} element {Count} is {text}{why}");
    }

    private static InferenceException Invalid(string message) => InferenceException.InvalidArgument(message);
}
