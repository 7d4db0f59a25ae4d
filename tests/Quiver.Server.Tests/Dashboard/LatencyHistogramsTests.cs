using System.Diagnostics.Metrics;
using Quiver.Core.Monitoring;
using Quiver.Server.Dashboard;

namespace Quiver.Server.Tests.Dashboard;

public sealed class LatencyHistogramsTests
{
    [Fact]
    public void Read_CountsEachVersionsLatenciesIntoTheExportersBuckets()
    {
        using var meter = new Meter("test-" + Guid.NewGuid());
        Histogram<double> durations = meter.CreateHistogram<double>(InferenceMetrics.RequestDurationName);
        using var histograms = new LatencyHistograms(meter);

        durations.Record(0.0003, new("model", "a"), new("version", "1"), new("outcome", "success"));
        durations.Record(0.0005, new("model", "a"), new("version", "1"), new("outcome", "failure")); // on a bound: that bucket
        durations.Record(60, new("model", "a"), new("version", "1"), new("outcome", "success"));
        durations.Record(0.002, new("model", "b"), new("version", "1"), new("outcome", "success"));

        long[] a = histograms.Read("a", "1");
        Assert.Equal(LatencyHistograms.Bounds.Count + 1, a.Length);
        Assert.Equal(2, a[LatencyHistograms.Bounds.ToList().IndexOf(0.0005)]); // (0.25 ms, 0.5 ms]
        Assert.Equal(1, a[^1]); // +Inf
        Assert.Equal(3, a.Sum());
        Assert.Equal(1, histograms.Read("b", "1").Sum());
        Assert.Equal(0, histograms.Read("c", "1").Sum());
    }
}
