namespace Quiver.Core.Tensors;

/// <summary>
/// One named tensor of a request or response. Fixed-size datatypes keep their elements as raw
/// little-endian bytes in row-major order (<see cref="Data"/>); BYTES keeps one byte array per
/// element (<see cref="Bytes"/>).
/// </summary>
public sealed class InferenceTensor
{
    public InferenceTensor(string name, DataType dataType, long[] shape, ReadOnlyMemory<byte> data, Parameters? parameters = null)
    {
        if (dataType == DataType.Bytes)
        {
            throw new ArgumentException("BYTES tensors carry their elements in Bytes; use the byte[][] constructor.", nameof(dataType));
        }

        Name = name;
        DataType = dataType;
        Shape = shape;
        Data = data;
        Parameters = parameters ?? Parameters.Empty;
    }

    public InferenceTensor(string name, long[] shape, byte[][] bytes, Parameters? parameters = null)
    {
        Name = name;
        DataType = DataType.Bytes;
        Shape = shape;
        Bytes = bytes;
        Parameters = parameters ?? Parameters.Empty;
    }

    /// <summary>The input or output name.</summary>
    public string Name { get; }

    /// <summary>The protocol datatype.</summary>
    public DataType DataType { get; }

    /// <summary>The shape; every dimension is non-negative.</summary>
    public long[] Shape { get; }

    /// <summary>Raw elements for every datatype except BYTES.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The elements of a BYTES tensor; null otherwise.</summary>
    public byte[][]? Bytes { get; }

    /// <summary>Per-tensor protocol parameters.</summary>
    public Parameters Parameters { get; }

    /// <summary>The number of elements the shape describes (1 for a scalar).</summary>
    public long ElementCount => Shapes.ElementCount(Shape);

    /// <summary>The elements reinterpreted as <typeparamref name="T"/> (not for BYTES).</summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(Data.Span);
}
