using System.Buffers.Binary;
using Quiver.Core.Tensors;

namespace Quiver.Cli.Bench;

/// <summary>
/// Random input elements from a seeded generator: floats in [0, 1), integers in [0, 100) (within every
/// integer type's range), booleans, and 8-letter strings, so runs repeat exactly.
/// </summary>
public static class RandomTensorData
{
    /// <summary>A tensor of <paramref name="type"/> and <paramref name="shape"/> filled from <paramref name="random"/>.</summary>
    public static InputTensor Create(string name, DataType type, long[] shape, Random random)
    {
        long count = shape.Aggregate(1L, (c, d) => checked(c * d));
        if (type == DataType.Bytes)
        {
            var strings = new byte[count][];
            for (long i = 0; i < count; i++)
            {
                strings[i] = new byte[8];
                for (int c = 0; c < 8; c++)
                {
                    strings[i][c] = (byte)('a' + random.Next(26));
                }
            }

            return new InputTensor(name, type, shape, [], strings);
        }

        int size = type.ElementSize();
        var raw = new byte[checked(count * size)];
        for (long i = 0; i < count; i++)
        {
            Write(raw.AsSpan((int)(i * size), size), type, random);
        }

        return new InputTensor(name, type, shape, raw);
    }

    private static void Write(Span<byte> element, DataType type, Random random)
    {
        switch (type)
        {
            case DataType.Fp32:
                BinaryPrimitives.WriteSingleLittleEndian(element, random.NextSingle());
                break;
            case DataType.Fp64:
                BinaryPrimitives.WriteDoubleLittleEndian(element, random.NextDouble());
                break;
            case DataType.Fp16:
                BinaryPrimitives.WriteHalfLittleEndian(element, (Half)random.NextSingle());
                break;
            case DataType.Bf16:
                // BF16 is the upper half of an FP32.
                BinaryPrimitives.WriteUInt16LittleEndian(element, (ushort)(BitConverter.SingleToUInt32Bits(random.NextSingle()) >> 16));
                break;
            case DataType.Bool:
                element[0] = (byte)random.Next(2);
                break;
            default:
                // Integers: 0..99 fits INT8 and every wider or unsigned type; the rest of the element stays 0.
                element.Clear();
                element[0] = (byte)random.Next(100);
                break;
        }
    }
}
