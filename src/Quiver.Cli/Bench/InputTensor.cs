using System.Buffers.Binary;
using Quiver.Core.Tensors;

namespace Quiver.Cli.Bench;

/// <summary>
/// One request input, held once in the protocol's binary form: little-endian elements, row-major; for BYTES
/// each element as a 4-byte little-endian length and its bytes (the form of the binary extension and of
/// gRPC's raw_input_contents), with the elements also kept apart for JSON.
/// </summary>
public sealed class InputTensor
{
    /// <summary>A tensor over raw bytes (numeric and BOOL) or byte strings (BYTES).</summary>
    public InputTensor(string name, DataType type, long[] shape, byte[] raw, byte[][]? strings = null)
    {
        Name = name;
        Type = type;
        Shape = shape;
        Strings = strings;
        Raw = strings is null ? raw : LengthPrefixed(strings);
        ElementCount = shape.Aggregate(1L, (count, dim) => count * dim);
    }

    /// <summary>The model input this feeds.</summary>
    public string Name { get; }

    /// <summary>The protocol datatype.</summary>
    public DataType Type { get; }

    /// <summary>The shape, batch dimension included.</summary>
    public long[] Shape { get; }

    /// <summary>The binary form sent by the binary extension and gRPC.</summary>
    public byte[] Raw { get; }

    /// <summary>The elements of a BYTES tensor; null otherwise.</summary>
    public byte[][]? Strings { get; }

    /// <summary>The product of the shape.</summary>
    public long ElementCount { get; }

    private static byte[] LengthPrefixed(byte[][] strings)
    {
        var raw = new byte[strings.Sum(s => 4 + s.Length)];
        int offset = 0;
        foreach (byte[] s in strings)
        {
            BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(offset), s.Length);
            s.CopyTo(raw, offset + 4);
            offset += 4 + s.Length;
        }

        return raw;
    }
}
