using System.Globalization;
using Quiver.Core.Tensors;

namespace Quiver.Core.Monitoring.Drift;

/// <summary>
/// Watches one model version's inputs and outputs for drift. Every numeric column of a tensor whose first
/// dimension is the batch is a feature ("input[3]"). The first <see cref="DriftConfig.BaselineRows"/> rows
/// seen become the baseline unless one is uploaded; after that, the last <see cref="DriftConfig.WindowRows"/>
/// rows are compared with it per feature (PSI and KS). Inputs named in <paramref name="excluded"/> (the model's
/// sensitive inputs) are never sampled: a baseline and a window are the values themselves, and pseudonyms would keep
/// no order to compare distributions by.
/// </summary>
public sealed class DriftMonitor(DriftConfig config, IReadOnlyCollection<string>? excluded = null)
{
    private readonly IReadOnlyCollection<string> _excluded = excluded ?? [];
    private readonly Lock _lock = new();
    private readonly Dictionary<string, FeatureSamples> _features = new(StringComparer.Ordinal);
    private bool _baselineUploaded;

    public DriftConfig Config { get; } = config;

    /// <summary>Takes a served request's inputs and outputs into the baseline or the live window.</summary>
    public void Observe(IReadOnlyList<InferenceTensor> inputs, IReadOnlyList<InferenceTensor> outputs)
    {
        lock (_lock)
        {
            foreach (InferenceTensor tensor in inputs.Concat(outputs))
            {
                if (tensor.Shape.Length != 2 || !IsNumeric(tensor.DataType) || _excluded.Contains(tensor.Name))
                {
                    continue; // only [batch, features] tensors of numbers have columns to watch, and never sensitive ones
                }

                int columns = (int)tensor.Shape[1];
                for (int row = 0; row < tensor.Shape[0]; row++)
                {
                    for (int column = 0; column < columns; column++)
                    {
                        Feature($"{tensor.Name}[{column}]").Add(ValueAt(tensor, (row * columns) + column));
                    }
                }
            }
        }
    }

    /// <summary>Replaces the baseline with uploaded samples per feature; the live window starts empty.</summary>
    public void SetBaseline(IReadOnlyDictionary<string, double[]> samples)
    {
        lock (_lock)
        {
            _features.Clear();
            foreach (var (name, values) in samples)
            {
                Feature(name).SetBaseline(values);
            }

            _baselineUploaded = true;
        }
    }

    /// <summary>The drift state now, with every feature's scores, worst first.</summary>
    public DriftReport Report()
    {
        lock (_lock)
        {
            var features = _features
                .Select(f => f.Value.Score(f.Key, Config))
                .OrderByDescending(f => f.Psi)
                .ToArray();
            DriftState state = features.Length == 0 ? DriftState.Ok : features.Max(f => f.State);
            return new DriftReport(state, _baselineUploaded ? "uploaded" : "captured",
                _features.Values.Select(f => f.BaselineCount).DefaultIfEmpty(0).Max(),
                _features.Values.Select(f => f.LiveCount).DefaultIfEmpty(0).Max(),
                features);
        }
    }

    private FeatureSamples Feature(string name)
    {
        if (!_features.TryGetValue(name, out FeatureSamples? feature))
        {
            feature = new FeatureSamples(Config.BaselineRows, Config.WindowRows);
            _features[name] = feature;
        }

        return feature;
    }

    private static bool IsNumeric(DataType type) => type is not (DataType.Bytes or DataType.Bool);

    private static double ValueAt(InferenceTensor tensor, int index) => tensor.DataType switch
    {
        DataType.Fp32 => tensor.AsSpan<float>()[index],
        DataType.Fp64 => tensor.AsSpan<double>()[index],
        DataType.Fp16 => (double)tensor.AsSpan<Half>()[index],
        DataType.Int64 => tensor.AsSpan<long>()[index],
        DataType.Int32 => tensor.AsSpan<int>()[index],
        DataType.Int16 => tensor.AsSpan<short>()[index],
        DataType.Int8 => tensor.AsSpan<sbyte>()[index],
        DataType.UInt64 => tensor.AsSpan<ulong>()[index],
        DataType.UInt32 => tensor.AsSpan<uint>()[index],
        DataType.UInt16 => tensor.AsSpan<ushort>()[index],
        DataType.UInt8 => tensor.Data.Span[index],
        DataType.Bf16 => BitConverter.UInt32BitsToSingle((uint)tensor.AsSpan<ushort>()[index] << 16),
        _ => 0,
    };

    /// <summary>One feature's baseline (filled first) and its live window (a ring of the latest values).</summary>
    private sealed class FeatureSamples(int baselineRows, int windowRows)
    {
        private readonly List<double> _baseline = new(baselineRows);
        private readonly double[] _window = new double[windowRows];
        private double[]? _sortedBaseline;
        private bool _uploaded;
        private int _next;

        public int BaselineCount => _baseline.Count;

        public int LiveCount { get; private set; }

        public void Add(double value)
        {
            // An uploaded baseline is complete as it is; a captured one fills up first.
            if (!_uploaded && _baseline.Count < baselineRows)
            {
                _baseline.Add(value);
                _sortedBaseline = null;
                return;
            }

            _window[_next] = value;
            _next = (_next + 1) % _window.Length;
            LiveCount = Math.Min(LiveCount + 1, _window.Length);
        }

        public void SetBaseline(double[] values)
        {
            _baseline.Clear();
            _baseline.AddRange(values);
            _sortedBaseline = null;
            _uploaded = true;
        }

        public FeatureDrift Score(string name, DriftConfig config)
        {
            if (_sortedBaseline is null)
            {
                _sortedBaseline = [.. _baseline];
                Array.Sort(_sortedBaseline);
            }

            double[] live = _window[..LiveCount];
            if (LiveCount < config.MinimumWindowRows || _sortedBaseline.Length == 0)
            {
                return new FeatureDrift(name, 0, 0, DriftState.Ok);
            }

            double psi = DriftStatistics.PopulationStabilityIndex(_sortedBaseline, live);
            double ks = DriftStatistics.KolmogorovSmirnov(_sortedBaseline, live);
            bool significant = ks > DriftStatistics.KolmogorovSmirnovCritical(_sortedBaseline.Length, live.Length);
            DriftState state = psi >= config.PsiDrift && significant ? DriftState.Drifting
                : psi >= config.PsiWarning || significant ? DriftState.Warning
                : DriftState.Ok;
            return new FeatureDrift(name, Math.Round(psi, 6), Math.Round(ks, 6), state);
        }
    }
}

/// <summary>Drift watching settings of a model ("drift" in config.json).</summary>
public sealed record DriftConfig(int BaselineRows = 1000, int WindowRows = 1000, int MinimumWindowRows = 100,
    double PsiWarning = 0.1, double PsiDrift = 0.25);

public enum DriftState
{
    Ok,
    Warning,
    Drifting,
}

/// <summary>One feature's scores.</summary>
public sealed record FeatureDrift(string Feature, double Psi, double KolmogorovSmirnov, DriftState State);

/// <summary>A model version's drift state, its baseline's origin and size, and every feature, worst first.</summary>
public sealed record DriftReport(DriftState State, string Baseline, int BaselineRows, int WindowRows, IReadOnlyList<FeatureDrift> Features)
{
    /// <summary>The state as the API and metrics spell it: ok, warning, drifting.</summary>
    public string StateName => State.ToString().ToLower(CultureInfo.InvariantCulture);
}
