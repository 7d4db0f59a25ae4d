namespace Quiver.Onnx.Optimization;

/// <summary>
/// A float matrix [rows, columns] quantized to int8: <c>w ≈ (q - zeroPoint) × scale</c>, with one scale and zero point
/// for the whole matrix (per tensor) or one per column (per output channel of a MatMul weight).
/// </summary>
public sealed record QuantizedWeights(sbyte[] Values, float[] Scales, sbyte[] ZeroPoints, int Rows, int Columns)
{
    /// <summary>
    /// Quantizes a row-major [rows, columns] matrix. Symmetric: zero point 0, scale = max|w| / 127, values in [-127, 127]
    /// (-128 unused, so +w and -w quantize alike). Asymmetric: the range [min(w, 0), max(w, 0)] maps onto [-128, 127].
    /// <paramref name="reduceRange"/> uses 7 bits (±63, or [-64, 63]) for CPUs whose int8 dot product saturates
    /// (x86 AVX2 without VNNI adds two u8×s8 products into an int16).
    /// </summary>
    /// <exception cref="ModelOptimizationException">A weight is NaN or infinite.</exception>
    public static QuantizedWeights Quantize(float[] matrix, int rows, int columns, bool perColumn, bool symmetric, bool reduceRange = false)
    {
        if (matrix.Length != checked(rows * columns))
        {
            throw new ArgumentException($"{matrix.Length} values is not a [{rows}, {columns}] matrix.", nameof(matrix));
        }

        int groups = perColumn ? columns : 1;
        // Per column: group g holds elements g, g + columns, g + 2·columns, ...; per tensor: every element.
        int stride = perColumn ? columns : 1, count = perColumn ? rows : matrix.Length;
        int qmin = reduceRange ? -64 : -128, qmax = reduceRange ? 63 : 127;
        var scales = new float[groups];
        var zeroPoints = new sbyte[groups];
        var values = new sbyte[matrix.Length];
        for (int g = 0; g < groups; g++)
        {
            // The range always includes 0, so zero (padding, ReLU's floor) is represented exactly.
            float min = 0, max = 0;
            for (int k = 0, i = g; k < count; k++, i += stride)
            {
                float w = matrix[i];
                if (!float.IsFinite(w))
                {
                    throw new ModelOptimizationException($"weight element {i} is {w}; only finite weights can be quantized.");
                }

                min = Math.Min(min, w);
                max = Math.Max(max, w);
            }

            float scale = symmetric ? Math.Max(-min, max) / qmax : (max - min) / (qmax - qmin);
            // An all-zero group: any scale reproduces it; 1 keeps the arithmetic finite.
            if (!float.IsNormal(scale))
            {
                scale = 1;
            }

            int zeroPoint = symmetric ? 0 : Math.Clamp((int)MathF.Round(qmin - (min / scale)), qmin, qmax);
            int low = symmetric ? -qmax : qmin;
            for (int k = 0, i = g; k < count; k++, i += stride)
            {
                values[i] = (sbyte)Math.Clamp((int)MathF.Round(matrix[i] / scale, MidpointRounding.ToEven) + zeroPoint, low, qmax);
            }

            scales[g] = scale;
            zeroPoints[g] = (sbyte)zeroPoint;
        }

        return new QuantizedWeights(values, scales, zeroPoints, rows, columns);
    }

    /// <summary>The float value element (row, column) stands for after dequantization.</summary>
    public float Dequantize(int row, int column)
    {
        int g = Scales.Length == 1 ? 0 : column;
        return (Values[(row * Columns) + column] - ZeroPoints[g]) * Scales[g];
    }
}
