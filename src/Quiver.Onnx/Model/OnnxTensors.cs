using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Model;

/// <summary>Encodes typed arrays as ONNX tensors and decodes them back, following the TensorProto rules.</summary>
/// <remarks>
/// Numeric tensors are written as raw_data (fixed width, little-endian, row-major): it is the compact form every
/// ONNX tool emits for weights. Strings go to string_data, the only form the specification allows for them.
/// Reading accepts raw_data and every typed field (float_data, int32_data, ...), as other producers use both.
/// </remarks>
public static class OnnxTensors
{
    /// <summary>A numeric tensor from values (row-major) and dims; empty dims make a scalar.</summary>
    /// <typeparam name="T">float, double, Half, sbyte, byte, short, ushort, int, uint, long, ulong or bool.</typeparam>
    public static TensorProto Create<T>(string name, ReadOnlySpan<T> values, ReadOnlySpan<long> dims)
        where T : unmanaged
    {
        var type = ElementTypeOf<T>();
        RequireLittleEndian();
        var raw = MemoryMarshal.AsBytes(values);
        if (typeof(T) == typeof(bool))
        {
            // The specification fixes true as exactly 1; normalise whatever bytes the runtime holds.
            var bools = raw.ToArray();
            for (var i = 0; i < bools.Length; i++)
            {
                bools[i] = bools[i] == 0 ? (byte)0 : (byte)1;
            }

            raw = bools;
        }

        return FromRawData(name, type, raw, dims, values.Length);
    }

    /// <summary>A STRING tensor from UTF-8 encoded values and dims; empty dims make a scalar.</summary>
    public static TensorProto Create(string name, IReadOnlyList<string> values, ReadOnlySpan<long> dims)
    {
        ArgumentNullException.ThrowIfNull(values);
        var tensor = NewTensor(name, TensorElementType.String, dims, values.Count);
        foreach (var value in values)
        {
            tensor.StringData.Add(ByteString.CopyFromUtf8(value));
        }

        return tensor;
    }

    /// <summary>A BFLOAT16 tensor from floats, each rounded to the nearest bfloat16 (ties to even).</summary>
    public static TensorProto CreateBFloat16(string name, ReadOnlySpan<float> values, ReadOnlySpan<long> dims)
    {
        var raw = new byte[values.Length * 2];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(i * 2), SingleToBFloat16Bits(values[i]));
        }

        return FromRawData(name, TensorElementType.BFloat16, raw, dims, values.Length);
    }

    /// <summary>A tensor of any non-string type from its raw little-endian element bytes.</summary>
    public static TensorProto FromRawData(string name, TensorElementType type, ReadOnlySpan<byte> rawData, ReadOnlySpan<long> dims)
    {
        var size = ElementSize(type);
        if (rawData.Length % size != 0)
        {
            throw new ArgumentException($"{rawData.Length} bytes is not a whole number of {type} elements.", nameof(rawData));
        }

        return FromRawData(name, type, rawData, dims, rawData.Length / size);
    }

    /// <summary>The element type a tensor declares.</summary>
    public static TensorElementType ElementTypeOf(TensorProto tensor) => (TensorElementType)tensor.DataType;

    /// <summary>The ONNX element type that stores values of the CLR type <typeparamref name="T"/>.</summary>
    public static TensorElementType ElementTypeOf<T>() => ElementTypeOf(typeof(T));

    /// <summary>The ONNX element type that stores values of a CLR type.</summary>
    public static TensorElementType ElementTypeOf(Type clrType) => clrType switch
    {
        _ when clrType == typeof(float) => TensorElementType.Float,
        _ when clrType == typeof(double) => TensorElementType.Double,
        _ when clrType == typeof(Half) => TensorElementType.Float16,
        _ when clrType == typeof(sbyte) => TensorElementType.Int8,
        _ when clrType == typeof(byte) => TensorElementType.UInt8,
        _ when clrType == typeof(short) => TensorElementType.Int16,
        _ when clrType == typeof(ushort) => TensorElementType.UInt16,
        _ when clrType == typeof(int) => TensorElementType.Int32,
        _ when clrType == typeof(uint) => TensorElementType.UInt32,
        _ when clrType == typeof(long) => TensorElementType.Int64,
        _ when clrType == typeof(ulong) => TensorElementType.UInt64,
        _ when clrType == typeof(bool) => TensorElementType.Bool,
        _ when clrType == typeof(string) => TensorElementType.String,
        _ => throw new NotSupportedException($"No ONNX element type stores {clrType.Name}."),
    };

    /// <summary>Bytes per element of a fixed-width type.</summary>
    public static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Int8 or TensorElementType.UInt8 or TensorElementType.Bool => 1,
        TensorElementType.Int16 or TensorElementType.UInt16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,
        _ => throw new NotSupportedException($"{type} has no fixed element size."),
    };

    /// <summary>The number of elements the tensor's dims describe (1 for a scalar).</summary>
    public static long ElementCount(TensorProto tensor)
    {
        long count = 1;
        foreach (var d in tensor.Dims)
        {
            count = checked(count * d);
        }

        return count;
    }

    /// <summary>The elements of a numeric tensor, whichever field holds them.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> does not match the tensor's type.</exception>
    public static T[] ToArray<T>(TensorProto tensor)
        where T : unmanaged
    {
        var expected = ElementTypeOf<T>();
        if (ElementTypeOf(tensor) != expected)
        {
            throw new InvalidOperationException(
                $"Tensor '{tensor.Name}' holds {ElementTypeOf(tensor)}, not {expected} ({typeof(T).Name}).");
        }

        return MemoryMarshal.Cast<byte, T>(ToRawData(tensor)).ToArray();
    }

    /// <summary>The elements of a STRING tensor, decoded from UTF-8.</summary>
    public static string[] ToStrings(TensorProto tensor)
    {
        if (ElementTypeOf(tensor) != TensorElementType.String)
        {
            throw new InvalidOperationException($"Tensor '{tensor.Name}' holds {ElementTypeOf(tensor)}, not String.");
        }

        return tensor.StringData.Select(s => s.ToStringUtf8()).ToArray();
    }

    /// <summary>The elements of a BFLOAT16 tensor, widened to float exactly.</summary>
    public static float[] ToBFloat16AsSingles(TensorProto tensor)
    {
        if (ElementTypeOf(tensor) != TensorElementType.BFloat16)
        {
            throw new InvalidOperationException($"Tensor '{tensor.Name}' holds {ElementTypeOf(tensor)}, not BFloat16.");
        }

        var raw = ToRawData(tensor);
        var values = new float[raw.Length / 2];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(i * 2)) << 16);
        }

        return values;
    }

    /// <summary>The elements of a non-string tensor as little-endian raw bytes, converted from a typed field if needed.</summary>
    /// <exception cref="NotSupportedException">The data lives in an external file.</exception>
    public static byte[] ToRawData(TensorProto tensor)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new NotSupportedException($"Tensor '{tensor.Name}' keeps its data in an external file.");
        }

        var type = ElementTypeOf(tensor);
        var size = ElementSize(type);
        if (tensor.HasRawData)
        {
            return tensor.RawData.ToByteArray();
        }

        var writer = new RawWriter(size);
        switch (type)
        {
            case TensorElementType.Float:
                foreach (var v in tensor.FloatData) { writer.Write((ulong)BitConverter.SingleToUInt32Bits(v)); }
                break;
            case TensorElementType.Double:
                foreach (var v in tensor.DoubleData) { writer.Write(BitConverter.DoubleToUInt64Bits(v)); }
                break;
            case TensorElementType.Int64:
                foreach (var v in tensor.Int64Data) { writer.Write((ulong)v); }
                break;
            case TensorElementType.UInt32 or TensorElementType.UInt64:
                foreach (var v in tensor.Uint64Data) { writer.Write(v); }
                break;
            default:
                // int32_data carries int32, int16, int8, uint16, uint8, bool, float16 and bfloat16 (as bits).
                foreach (var v in tensor.Int32Data) { writer.Write((ulong)(uint)v); }
                break;
        }

        return writer.ToArray();
    }

    /// <summary>Rounds a float to the nearest bfloat16 bit pattern, ties to even; NaN stays NaN.</summary>
    public static ushort SingleToBFloat16Bits(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040);
        }

        var roundingBias = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    private static TensorProto FromRawData(string name, TensorElementType type, ReadOnlySpan<byte> raw, ReadOnlySpan<long> dims, int count)
    {
        if (type == TensorElementType.String)
        {
            throw new ArgumentException("STRING tensors cannot use raw_data; pass the strings instead.", nameof(type));
        }

        var tensor = NewTensor(name, type, dims, count);
        tensor.RawData = ByteString.CopyFrom(raw);
        return tensor;
    }

    private static TensorProto NewTensor(string name, TensorElementType type, ReadOnlySpan<long> dims, int count)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        long expected = 1;
        foreach (var d in dims)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(d, nameof(dims));
            expected = checked(expected * d);
        }

        if (expected != count)
        {
            throw new ArgumentException(
                $"Tensor '{name}' has dims [{string.Join(", ", dims.ToArray())}] ({expected} elements) but {count} values.", nameof(dims));
        }

        var tensor = new TensorProto { Name = name, DataType = (int)type };
        tensor.Dims.AddRange(dims.ToArray());
        return tensor;
    }

    private static void RequireLittleEndian()
    {
        // raw_data is little-endian by specification; every platform .NET 10 ships on is too.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX tensor encoding needs a little-endian platform.");
        }
    }

    private sealed class RawWriter(int elementSize)
    {
        private readonly List<byte> _bytes = [];

        public void Write(ulong value)
        {
            for (var i = 0; i < elementSize; i++)
            {
                _bytes.Add((byte)(value >> (8 * i)));
            }
        }

        public byte[] ToArray() => [.. _bytes];
    }
}
