using System.Runtime.InteropServices;
using System.Text;

namespace Quiver.Onnx;

/// <summary>
/// A dense tensor in managed memory: numeric elements as raw little-endian bytes in row-major order
/// (<see cref="Data"/>), strings as one UTF-8 byte array per element (<see cref="Strings"/>).
/// Inputs are handed to ONNX Runtime without a copy where the memory can be pinned.
/// </summary>
public sealed class TensorValue
{
    private TensorValue(TensorElementType elementType, long[] shape, long elementCount, ReadOnlyMemory<byte> data, byte[][]? strings)
    {
        ElementType = elementType;
        Shape = shape;
        ElementCount = elementCount;
        Data = data;
        Strings = strings;
    }

    public TensorElementType ElementType { get; }

    /// <summary>The dimensions; an empty array is a scalar.</summary>
    public long[] Shape { get; }

    /// <summary>The product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>The elements of a numeric or bool tensor; empty for strings.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The elements of a string tensor; null otherwise.</summary>
    public byte[][]? Strings { get; }

    /// <summary>A numeric or bool tensor over <paramref name="data"/> (not copied), which must hold exactly the shape's elements.</summary>
    public static TensorValue FromBytes(TensorElementType elementType, long[] shape, ReadOnlyMemory<byte> data)
    {
        int size = ElementTypes.SizeOf(elementType);
        if (size == 0)
        {
            throw new ArgumentException($"{elementType} tensors cannot be built from raw bytes.", nameof(elementType));
        }

        long count = CountElements(shape);
        if (data.Length != count * size)
        {
            throw new ArgumentException(
                $"shape [{string.Join(',', shape)}] of {elementType} needs {count * size} bytes, but {data.Length} were given.", nameof(data));
        }

        return new TensorValue(elementType, shape, count, data, null);
    }

    /// <summary>A tensor holding a copy of a .NET array's elements.</summary>
    public static TensorValue FromArray<T>(long[] shape, T[] data) where T : unmanaged =>
        FromBytes(ElementTypes.Of<T>(), shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    /// <summary>A string tensor of raw UTF-8 (or any) bytes per element.</summary>
    public static TensorValue FromStrings(long[] shape, byte[][] elements)
    {
        long count = CountElements(shape);
        if (elements.Length != count)
        {
            throw new ArgumentException($"shape [{string.Join(',', shape)}] needs {count} strings, but {elements.Length} were given.", nameof(elements));
        }

        return new TensorValue(TensorElementType.String, shape, count, ReadOnlyMemory<byte>.Empty, elements);
    }

    /// <summary>A string tensor, UTF-8 encoded.</summary>
    public static TensorValue FromStrings(long[] shape, string[] elements) =>
        FromStrings(shape, Array.ConvertAll(elements, Encoding.UTF8.GetBytes));

    /// <summary>The elements as <typeparamref name="T"/>, which must match <see cref="ElementType"/> in size.</summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged
    {
        if (ElementType == TensorElementType.String || System.Runtime.CompilerServices.Unsafe.SizeOf<T>() != ElementTypes.SizeOf(ElementType))
        {
            throw new InvalidOperationException($"a {ElementType} tensor cannot be read as {typeof(T).Name}.");
        }

        return MemoryMarshal.Cast<byte, T>(Data.Span);
    }

    /// <summary>The elements of a string tensor, decoded as UTF-8.</summary>
    public string[] GetStrings() =>
        Strings is { } strings
            ? Array.ConvertAll(strings, Encoding.UTF8.GetString)
            : throw new InvalidOperationException($"a {ElementType} tensor has no strings.");

    private static long CountElements(long[] shape)
    {
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentException($"shape [{string.Join(',', shape)}] has a negative dimension.", nameof(shape));
            }

            count = checked(count * dim);
        }

        return count;
    }
}
