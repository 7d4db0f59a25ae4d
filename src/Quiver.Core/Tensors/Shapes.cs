namespace Quiver.Core.Tensors;

/// <summary>Shape arithmetic shared by validation and codecs.</summary>
public static class Shapes
{
    /// <summary>The product of the dimensions, or -1 when a dimension is negative or the product overflows.</summary>
    public static long ElementCount(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
            {
                return -1;
            }

            try
            {
                count = checked(count * dim);
            }
            catch (OverflowException)
            {
                return -1;
            }
        }

        return count;
    }

    /// <summary>Formats a shape the way the protocol writes it: [2,4].</summary>
    public static string Format(ReadOnlySpan<long> shape) => "[" + string.Join(",", shape.ToArray()) + "]";
}
