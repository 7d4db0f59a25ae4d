using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Quiver.Core.Tensors;

namespace Quiver.Core.Models;

/// <summary>
/// Triton's classification extension: an output asked for with the parameter
/// <c>classification: k</c> comes back as the top k classes of its last dimension, each a BYTES
/// element "score:index" or "score:index:label" when the model has a label file for that output.
/// </summary>
public static class Classification
{
    /// <summary>The output parameter that asks for classification.</summary>
    public const string ParameterName = "classification";

    /// <summary>True when the parameters ask for classification; <paramref name="count"/> is k.</summary>
    public static bool Requested(Parameters parameters, out long count) =>
        parameters.TryGetInt64(ParameterName, out count, out _);

    /// <summary>Checks a classification request against the output it applies to; null when it is fine.</summary>
    public static string? Check(RequestedOutput output, TensorSpec spec)
    {
        if (!output.Parameters.ContainsKey(ParameterName))
        {
            return null;
        }

        if (!output.Parameters.TryGetInt64(ParameterName, out long count, out string? error))
        {
            return $"output '{output.Name}': {error}";
        }

        if (count < 1)
        {
            return $"output '{output.Name}': classification count must be at least 1, got {count}";
        }

        if (spec.DataType is DataType.Bytes or DataType.Bool)
        {
            return $"output '{output.Name}': classification needs a numeric output, but it is {spec.DataType.Name()}";
        }

        return null;
    }

    /// <summary>Replaces a numeric output by its top <paramref name="count"/> classes along the last dimension.</summary>
    public static InferenceTensor TopK(InferenceTensor output, int count, string[]? labels)
    {
        long[] shape = output.Shape.Length == 0 ? [1] : output.Shape;
        int classes = (int)shape[^1];
        int k = Math.Min(count, classes);
        double[] scores = ToDoubles(output);
        int rows = classes == 0 ? 0 : scores.Length / classes;

        var elements = new byte[rows * k][];
        var order = new int[classes];
        for (int row = 0; row < rows; row++)
        {
            int offset = row * classes;
            for (int i = 0; i < classes; i++)
            {
                order[i] = i;
            }

            // Stable by index for ties, so equal scores come back in class order.
            Array.Sort(order, (a, b) => scores[offset + b].CompareTo(scores[offset + a]) is var c && c != 0 ? c : a.CompareTo(b));
            for (int j = 0; j < k; j++)
            {
                int index = order[j];
                string score = FormatScore(scores[offset + index], output.DataType);
                string text = labels is not null && index < labels.Length
                    ? $"{score}:{index}:{labels[index]}"
                    : $"{score}:{index}";
                elements[(row * k) + j] = Encoding.UTF8.GetBytes(text);
            }
        }

        long[] resultShape = (long[])shape.Clone();
        resultShape[^1] = k;
        return new InferenceTensor(output.Name, resultShape, elements);
    }

    // Narrow floats print as floats, so 0.9f reads "0.9" and not "0.8999999761581421".
    private static string FormatScore(double score, DataType type) => type == DataType.Fp64
        ? score.ToString("R", CultureInfo.InvariantCulture)
        : ((float)score).ToString("R", CultureInfo.InvariantCulture);

    private static double[] ToDoubles(InferenceTensor tensor)
    {
        ReadOnlySpan<byte> data = tensor.Data.Span;
        var values = new double[tensor.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = tensor.DataType switch
            {
                DataType.UInt8 => data[i],
                DataType.Int8 => (sbyte)data[i],
                DataType.UInt16 => MemoryMarshal.Cast<byte, ushort>(data)[i],
                DataType.Int16 => MemoryMarshal.Cast<byte, short>(data)[i],
                DataType.UInt32 => MemoryMarshal.Cast<byte, uint>(data)[i],
                DataType.Int32 => MemoryMarshal.Cast<byte, int>(data)[i],
                DataType.UInt64 => MemoryMarshal.Cast<byte, ulong>(data)[i],
                DataType.Int64 => MemoryMarshal.Cast<byte, long>(data)[i],
                DataType.Fp16 => (double)MemoryMarshal.Cast<byte, Half>(data)[i],
                DataType.Bf16 => BitConverter.Int32BitsToSingle(MemoryMarshal.Cast<byte, ushort>(data)[i] << 16),
                DataType.Fp32 => MemoryMarshal.Cast<byte, float>(data)[i],
                DataType.Fp64 => MemoryMarshal.Cast<byte, double>(data)[i],
                _ => throw new InvalidOperationException($"classification of {tensor.DataType.Name()} is not supported"),
            };
        }

        return values;
    }
}
