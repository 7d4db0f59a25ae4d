using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Optimization;

/// <summary>How calibration turns observed activations into a range.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen: nothing is clipped, but one outlier widens every step.</summary>
    MinMax,

    /// <summary>The p-th and (100 − p)-th percentiles: the rare extremes are clipped so the common values get finer steps.</summary>
    Percentile,
}

/// <summary>
/// Measures the range of chosen float values of a model on representative inputs, by running the model in ONNX Runtime
/// with those values exposed as extra outputs.
/// </summary>
public static class Calibrator
{
    // Percentiles come from a uniform sample of at most this many values per tensor: 4 MiB each, and a 1-in-10⁴ tail
    // is still a hundred values.
    private const int ReservoirSize = 1 << 20;

    /// <summary>The range of each value in <paramref name="values"/> over every batch.</summary>
    /// <param name="model">The float model.</param>
    /// <param name="values">Names of float values in the main graph: graph inputs or node outputs.</param>
    /// <param name="batches">Input batches, each a tensor for every model input.</param>
    /// <param name="method">Min-max or percentile.</param>
    /// <param name="percentile">For <see cref="CalibrationMethod.Percentile"/>: the upper percentile, e.g. 99.99.</param>
    /// <exception cref="OnnxRuntimeException">The model fails on a batch.</exception>
    public static IReadOnlyDictionary<string, ActivationRange> Calibrate(ModelProto model, IReadOnlyCollection<string> values,
        IEnumerable<IReadOnlyList<NamedTensor>> batches, CalibrationMethod method, double percentile = 99.99, OnnxRuntime? runtime = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(percentile, 50);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);

        var inputs = model.Graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var existingOutputs = model.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        ModelProto probe = model.Clone();
        foreach (string value in values.Where(v => !inputs.Contains(v) && !existingOutputs.Contains(v)))
        {
            // No shape: ONNX Runtime fills it in; the element type is float by the caller's contract.
            probe.Graph.Output.Add(OnnxTypes.ValueInfo(value, OnnxTypes.Tensor(TensorElementType.Float, null)));
        }

        string[] outputs = values.Where(v => !inputs.Contains(v)).ToArray();
        var observed = values.ToDictionary(v => v, _ => new Observations(method == CalibrationMethod.Percentile), StringComparer.Ordinal);
        // Basic level: fusions could remove the very values being observed.
        using var session = InferenceSession.FromBytes(OnnxModel.ToBytes(probe), new SessionSettings { OptimizationLevel = GraphOptimizationLevel.Basic }, runtime);
        foreach (IReadOnlyList<NamedTensor> batch in batches)
        {
            foreach (NamedTensor input in batch.Where(b => observed.ContainsKey(b.Name)))
            {
                observed[input.Name].Add(input.Value.AsSpan<float>());
            }

            if (outputs.Length > 0)
            {
                TensorValue[] results = session.Run(batch, outputs);
                for (int i = 0; i < outputs.Length; i++)
                {
                    observed[outputs[i]].Add(results[i].AsSpan<float>());
                }
            }
        }

        return observed.Where(o => o.Value.Count > 0)
            .ToDictionary(o => o.Key, o => o.Value.Range(percentile), StringComparer.Ordinal);
    }

    private sealed class Observations(bool keepSample)
    {
        private readonly List<float> _sample = [];
        private readonly Random _random = new(0);
        private float _min = float.PositiveInfinity, _max = float.NegativeInfinity;

        public long Count { get; private set; }

        public void Add(ReadOnlySpan<float> values)
        {
            foreach (float v in values)
            {
                if (float.IsNaN(v))
                {
                    continue;
                }

                _min = Math.Min(_min, v);
                _max = Math.Max(_max, v);
                Count++;
                if (!keepSample)
                {
                    continue;
                }

                // Reservoir sampling: every value seen so far has the same chance to be in the sample.
                if (_sample.Count < ReservoirSize)
                {
                    _sample.Add(v);
                }
                else if (_random.NextInt64(Count) is var slot && slot < ReservoirSize)
                {
                    _sample[(int)slot] = v;
                }
            }
        }

        public ActivationRange Range(double percentile)
        {
            if (!keepSample)
            {
                return new ActivationRange(_min, _max);
            }

            _sample.Sort();
            int Rank(double p) => Math.Clamp((int)Math.Round(p / 100 * (_sample.Count - 1)), 0, _sample.Count - 1);
            return new ActivationRange(_sample[Rank(100 - percentile)], _sample[Rank(percentile)]);
        }
    }
}
