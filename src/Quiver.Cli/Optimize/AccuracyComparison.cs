using Quiver.Onnx;

namespace Quiver.Cli.Optimize;

/// <summary>How far one output of the optimized model moved from the original's, over every sample.</summary>
/// <param name="Name">The output.</param>
/// <param name="MaxAbsDiff">The largest |optimized − original| of any element (infinity when exactly one of the two is NaN).</param>
/// <param name="MeanAbsDiff">The mean |optimized − original| over all elements.</param>
/// <param name="MaxAbsOriginal">The largest |original| of any element, to put the differences in scale.</param>
/// <param name="Top1Agreement">For a [batch, classes] float output: the fraction of samples whose arg-max class is the same; else null.</param>
public sealed record OutputAccuracy(string Name, double MaxAbsDiff, double MeanAbsDiff, double MaxAbsOriginal, double? Top1Agreement);

/// <summary>The accuracy part of the report: what the models were compared on, and each output's differences.</summary>
/// <param name="Source">"generated" or the validation file's path.</param>
public sealed record AccuracyReport(string Source, int Samples, int BatchSize, IReadOnlyList<OutputAccuracy> Outputs)
{
    /// <summary>The lowest top-1 agreement over classifier outputs, or null when the model has none.</summary>
    public double? Top1Agreement => Outputs.Min(o => o.Top1Agreement);

    /// <summary>The largest max-abs difference over all outputs.</summary>
    public double MaxAbsDiff => Outputs.Count == 0 ? 0 : Outputs.Max(o => o.MaxAbsDiff);
}

/// <summary>Runs the original and the optimized model on the same batches and compares their outputs element by element.</summary>
public static class AccuracyComparison
{
    /// <summary>
    /// Compares in batches of <paramref name="batchSize"/>: int8 dynamic quantization chooses its activation scale per
    /// batch, so results depend a little on which samples share one, as they do behind a dynamic batcher.
    /// </summary>
    public static AccuracyReport Compare(InferenceSession original, InferenceSession optimized, IReadOnlyList<Sample> samples,
        int batchSize, string source, CancellationToken cancellationToken)
    {
        var missing = original.Outputs.Select(o => o.Name).Except(optimized.Outputs.Select(o => o.Name)).ToList();
        if (missing.Count > 0)
        {
            throw new OptimizeException($"the optimized model lacks output(s) {string.Join(", ", missing)} of the original.");
        }

        string[] names = original.Outputs.Select(o => o.Name).ToArray();
        var totals = names.Select(n => new Totals(n)).ToArray();
        foreach (IReadOnlyList<Sample> batch in Batches.Group(samples, batchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            NamedTensor[] inputs = Batches.Stack(batch);
            TensorValue[] expected = Run(original, inputs, names, "original");
            TensorValue[] actual = Run(optimized, inputs, names, "optimized");
            for (int i = 0; i < names.Length; i++)
            {
                totals[i].Add(expected[i], actual[i]);
            }
        }

        return new AccuracyReport(source, samples.Count, batchSize, totals.Select(t => t.ToAccuracy()).ToList());
    }

    private static TensorValue[] Run(InferenceSession session, NamedTensor[] inputs, string[] outputs, string which)
    {
        try
        {
            return session.Run(inputs, outputs);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OptimizeException($"the {which} model failed on the comparison data: {e.Message}");
        }
    }

    /// <summary>The elements of a numeric tensor as doubles.</summary>
    public static double[] ToDoubles(TensorValue value) => value.ElementType switch
    {
        TensorElementType.Float => ToDoubles(value.AsSpan<float>(), v => v),
        TensorElementType.Double => value.AsSpan<double>().ToArray(),
        TensorElementType.Float16 => ToDoubles(value.AsSpan<Half>(), v => (double)v),
        TensorElementType.Int8 => ToDoubles(value.AsSpan<sbyte>(), v => v),
        TensorElementType.UInt8 or TensorElementType.Bool => ToDoubles(value.AsSpan<byte>(), v => v),
        TensorElementType.Int16 => ToDoubles(value.AsSpan<short>(), v => v),
        TensorElementType.UInt16 => ToDoubles(value.AsSpan<ushort>(), v => v),
        TensorElementType.Int32 => ToDoubles(value.AsSpan<int>(), v => v),
        TensorElementType.UInt32 => ToDoubles(value.AsSpan<uint>(), v => v),
        TensorElementType.Int64 => ToDoubles(value.AsSpan<long>(), v => v),
        TensorElementType.UInt64 => ToDoubles(value.AsSpan<ulong>(), v => v),
        _ => throw new OptimizeException($"an output of type {value.ElementType} cannot be compared."),
    };

    private static double[] ToDoubles<T>(ReadOnlySpan<T> values, Func<T, double> convert)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = convert(values[i]);
        }

        return result;
    }

    private sealed class Totals(string name)
    {
        private double _max, _sum, _maxOriginal;
        private long _count, _rows, _agreeing;
        private bool _classifier = true;

        public void Add(TensorValue expected, TensorValue actual)
        {
            if (!expected.Shape.SequenceEqual(actual.Shape))
            {
                throw new OptimizeException(
                    $"output '{name}' has shape [{string.Join(',', actual.Shape)}] after optimization, [{string.Join(',', expected.Shape)}] before.");
            }

            double[] e = ToDoubles(expected), a = ToDoubles(actual);
            for (int i = 0; i < e.Length; i++)
            {
                double d = double.IsNaN(e[i]) && double.IsNaN(a[i]) ? 0 : Math.Abs(e[i] - a[i]);
                d = double.IsNaN(d) ? double.PositiveInfinity : d;
                _max = Math.Max(_max, d);
                _sum += d;
                _maxOriginal = Math.Max(_maxOriginal, double.IsFinite(e[i]) ? Math.Abs(e[i]) : 0);
            }

            _count += e.Length;
            bool isFloat = expected.ElementType is TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16;
            _classifier &= isFloat && expected.Shape.Length == 2 && expected.Shape[1] >= 2;
            if (_classifier)
            {
                int classes = (int)expected.Shape[1];
                for (int row = 0; row < expected.Shape[0]; row++)
                {
                    _rows++;
                    _agreeing += ArgMax(e, row * classes, classes) == ArgMax(a, row * classes, classes) ? 1 : 0;
                }
            }
        }

        public OutputAccuracy ToAccuracy() => new(name, _max, _count == 0 ? 0 : _sum / _count, _maxOriginal,
            _classifier && _rows > 0 ? (double)_agreeing / _rows : null);

        private static int ArgMax(double[] values, int start, int length)
        {
            int best = 0;
            for (int i = 1; i < length; i++)
            {
                if (values[start + i] > values[start + best])
                {
                    best = i;
                }
            }

            return best;
        }
    }
}
