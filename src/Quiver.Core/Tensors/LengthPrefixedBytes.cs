using System.Buffers.Binary;

namespace Quiver.Core.Tensors;

/// <summary>
/// The protocol's binary form of a BYTES tensor, shared by gRPC raw contents and the REST binary
/// extension: each element as a 4-byte little-endian length, then its bytes.
/// </summary>
public static class LengthPrefixedBytes
{
    public static byte[] Encode(byte[][] elements)
    {
        var buffer = new byte[elements.Sum(e => 4 + e.Length)];
        int offset = 0;
        foreach (byte[] element in elements)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset), (uint)element.Length);
            element.CopyTo(buffer, offset + 4);
            offset += 4 + element.Length;
        }

        return buffer;
    }

    /// <summary>Splits the buffer into exactly <paramref name="count"/> elements, checking every length prefix against it.</summary>
    public static byte[][] Decode(ReadOnlySpan<byte> buffer, long count, string label)
    {
        var elements = new List<byte[]>((int)Math.Min(count, buffer.Length / 4));
        int offset = 0;
        while (offset < buffer.Length)
        {
            if (buffer.Length - offset < 4)
            {
                throw Invalid($"{label} BYTES element {elements.Count} has a length prefix cut short: {buffer.Length - offset} of 4 bytes");
            }

            uint length = BinaryPrimitives.ReadUInt32LittleEndian(buffer[offset..]);
            if (length > buffer.Length - offset - 4)
            {
                throw Invalid($"{label} BYTES element {elements.Count} has length prefix {length}, beyond the {buffer.Length - offset - 4} bytes left in the buffer");
            }

            elements.Add(buffer.Slice(offset + 4, (int)length).ToArray());
            offset += 4 + (int)length;
        }

        return elements.Count == count
            ? [.. elements]
            : throw Invalid($"{label} has {elements.Count} BYTES elements, but its shape needs {count}");
    }

    private static InferenceException Invalid(string message) => InferenceException.InvalidArgument(message);
}
