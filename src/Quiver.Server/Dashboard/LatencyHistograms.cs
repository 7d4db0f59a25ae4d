using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Quiver.Core.Monitoring;
using Quiver.Server.Monitoring;

namespace Quiver.Server.Dashboard;

/// <summary>
/// Counts <c>quiver_request_duration_seconds</c> into the same buckets as <c>/metrics</c>, per model and version, so the
/// dashboard's percentiles are the ones Prometheus's <c>histogram_quantile</c> would compute from a scrape.
/// </summary>
internal sealed class LatencyHistograms : IDisposable
{
    private readonly MeterListener _listener = new();
    // Recorded on every request's path: one dictionary lookup and one interlocked increment, no lock.
    private readonly ConcurrentDictionary<(string Model, string Version), long[]> _counts = new();

    public LatencyHistograms(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter == meter && instrument.Name == InferenceMetrics.RequestDurationName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, seconds, tags, _) => Record(seconds, tags));
        _listener.Start();
    }

    /// <summary>Upper bounds of the buckets in seconds; the last count of <see cref="Read"/> is the +Inf bucket.</summary>
    public static IReadOnlyList<double> Bounds => PrometheusExporter.Buckets;

    /// <summary>A copy of one version's cumulative counts per bucket (not cumulative across buckets), all zero if none yet.</summary>
    public long[] Read(string model, string version)
    {
        var copy = new long[Bounds.Count + 1];
        if (_counts.TryGetValue((model, version), out long[]? counts))
        {
            for (int i = 0; i < copy.Length; i++)
            {
                copy[i] = Interlocked.Read(ref counts[i]);
            }
        }

        return copy;
    }

    public void Dispose() => _listener.Dispose();

    private void Record(double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string model = "", version = "";
        foreach (var (key, value) in tags)
        {
            if (key == "model")
            {
                model = value as string ?? "";
            }
            else if (key == "version")
            {
                version = value as string ?? "";
            }
        }

        int bucket = 0;
        while (bucket < Bounds.Count && seconds > Bounds[bucket])
        {
            bucket++;
        }

        long[] counts = _counts.GetOrAdd((model, version), static _ => new long[Bounds.Count + 1]);
        Interlocked.Increment(ref counts[bucket]);
    }
}
