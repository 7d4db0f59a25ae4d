using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Quiver.Server.Monitoring;

/// <summary>
/// Listens to this server's meter (and .NET's own "System.Runtime" meter) and writes everything in the
/// Prometheus text exposition format on each scrape. Counters sum, gauges keep the last value, histograms
/// count into buckets sized for sub-millisecond serving.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    /// <summary>Histogram bucket bounds in seconds: 10 µs to 10 s, dense below 10 ms where serving latencies live (a small model answers in ~60 µs).</summary>
    public static readonly double[] Buckets = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener = new();
    private readonly Dictionary<Instrument, Family> _families = [];
    private readonly Lock _lock = new();

    public PrometheusExporter(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == meter || instrument.Meter.Name == "System.Runtime")
            {
                lock (_lock)
                {
                    _families[instrument] = new Family(instrument);
                }

                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Collects the observable instruments and writes every series.</summary>
    public string Scrape()
    {
        lock (_lock)
        {
            foreach (Family family in _families.Values.Where(f => f.Observable))
            {
                family.Clear(); // observed values are whole; series that vanished (unloaded versions) go away
            }
        }

        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        lock (_lock)
        {
            foreach (Family family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                family.Write(text);
            }
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_lock)
        {
            if (_families.TryGetValue(instrument, out Family? family))
            {
                family.Add(tags, value);
            }
        }
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return "";
        }

        // Sorted by name, so the same tags in another order are the same series.
        var labels = new StringBuilder("{");
        foreach (var (key, value) in tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            if (labels.Length > 1)
            {
                labels.Append(',');
            }

            labels.Append(Name(key)).Append("=\"").Append(Escape(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }

        return labels.Append('}').ToString();
    }

    // Label values come from model names, i.e. from folder names: escape what the text format requires.
    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    // Prometheus names allow [a-zA-Z0-9_:]; .NET's own instruments use dots ("dotnet.gc.collections").
    private static string Name(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
        }

        return builder.ToString();
    }

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>One metric: its kind, and its series by label set.</summary>
    private sealed class Family(Instrument instrument)
    {
        public string Name { get; } = Normalize(instrument);

        public bool Observable { get; } = instrument.IsObservable;

        public Dictionary<string, Series> Series { get; } = new(StringComparer.Ordinal);

        // Measurements find their series by comparing tags, so recording one (every request) builds no label text;
        // the text is made once per new tag set. Few series per metric, so a list is quick to search.
        private readonly List<(KeyValuePair<string, object?>[] Tags, Series Series)> _byTags = [];

        private string Type => instrument switch
        {
            Histogram<double> or Histogram<long> or Histogram<int> => "histogram",
            Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double> => "counter",
            _ => "gauge",
        };

        /// <summary>Forgets every series (observed values are whole at each collection).</summary>
        public void Clear()
        {
            Series.Clear();
            _byTags.Clear();
        }

        public void Add(ReadOnlySpan<KeyValuePair<string, object?>> tags, double value)
        {
            Series series = SeriesFor(tags);

            switch (Type)
            {
                case "histogram":
                    series.Observe(value);
                    break;
                case "counter" when !Observable:
                    series.Value += value;
                    break;
                default:
                    series.Value = value; // observed counters report their total; gauges their current value
                    break;
            }
        }

        private Series SeriesFor(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var (known, series) in _byTags)
            {
                if (SameTags(known, tags))
                {
                    return series;
                }
            }

            string labels = Labels(tags);
            if (!Series.TryGetValue(labels, out Series? found))
            {
                found = new Series();
                Series[labels] = found;
            }

            _byTags.Add((tags.ToArray(), found));
            return found;
        }

        private static bool SameTags(KeyValuePair<string, object?>[] known, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (known.Length != tags.Length)
            {
                return false;
            }

            for (int i = 0; i < known.Length; i++)
            {
                if (!string.Equals(known[i].Key, tags[i].Key, StringComparison.Ordinal) || !Equals(known[i].Value, tags[i].Value))
                {
                    return false;
                }
            }

            return true;
        }

        public void Write(StringBuilder text)
        {
            text.Append("# HELP ").Append(Name).Append(' ').Append(instrument.Description ?? Name).Append('\n');
            text.Append("# TYPE ").Append(Name).Append(' ').Append(Type).Append('\n');
            foreach (var (labels, series) in Series.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                if (Type != "histogram")
                {
                    text.Append(Name).Append(labels).Append(' ').Append(Number(series.Value)).Append('\n');
                    continue;
                }

                long cumulative = 0;
                for (int i = 0; i <= Buckets.Length; i++)
                {
                    cumulative += series.Buckets[i];
                    string le = i < Buckets.Length ? Number(Buckets[i]) : "+Inf";
                    string bucketLabels = labels.Length == 0 ? $"{{le=\"{le}\"}}" : $"{labels[..^1]},le=\"{le}\"}}";
                    text.Append(Name).Append("_bucket").Append(bucketLabels).Append(' ').Append(cumulative).Append('\n');
                }

                text.Append(Name).Append("_sum").Append(labels).Append(' ').Append(Number(series.Value)).Append('\n');
                text.Append(Name).Append("_count").Append(labels).Append(' ').Append(series.Count).Append('\n');
            }
        }

        private static string Normalize(Instrument instrument)
        {
            string name = PrometheusExporter.Name(instrument.Name);
            bool counter = instrument is Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int> or ObservableCounter<double>;

            // Prometheus convention: counters end in _total, except Triton's nv_* names which dashboards expect as they are.
            return counter && !name.EndsWith("_total", StringComparison.Ordinal) && !name.StartsWith("nv_", StringComparison.Ordinal)
                ? name + "_total"
                : name;
        }
    }

    /// <summary>One label set's value, or a histogram's bucket counts, sum and count.</summary>
    private sealed class Series
    {
        public double Value { get; set; }

        public long Count { get; private set; }

        public long[] Buckets { get; } = new long[PrometheusExporter.Buckets.Length + 1];

        public void Observe(double value)
        {
            int bucket = Array.FindIndex(PrometheusExporter.Buckets, bound => value <= bound);
            Buckets[bucket < 0 ? PrometheusExporter.Buckets.Length : bucket]++;
            Value += value;
            Count++;
        }
    }
}
