using Quiver.Core.Models;
using Quiver.Server.Dashboard;

namespace Quiver.Server.Tests.Dashboard;

public sealed class DashboardSamplerTests
{
    private readonly ManualClock _clock = new();
    private readonly Guid _load = Guid.NewGuid();

    private DashboardSampler Sampler() => new(_clock);

    // One ready version "m" 1 with the given cumulative counters, and the process at cpuSeconds.
    private DashboardReading Reading(long success, long failure = 0, long[]? latencies = null, long inferences = 0, long executions = 0,
        double cpuSeconds = 0, Guid? load = null)
    {
        var counters = new VersionCounters(load ?? _load, success, failure, inferences, executions, 0, 0,
            latencies ?? new long[LatencyHistograms.Bounds.Count + 1], []);
        var version = new VersionReading("m", 1, ModelState.Ready, null, [], counters, 0, false, null);
        return new DashboardReading(_clock.GetTimestamp(), new ProcessReading(1, 1, cpuSeconds, 1, 2), [new ModelReading("m", [version])], TrafficReading.None);
    }

    private static long[] Latencies(int bucket, long count)
    {
        long[] counts = new long[LatencyHistograms.Bounds.Count + 1];
        counts[bucket] = count;
        return counts;
    }

    [Fact]
    public void FirstReading_HasNoLiveFigures()
    {
        DashboardView view = Sampler().Observe(Reading(success: 5));

        Assert.Null(view.CpuPercent);
        Assert.Empty(view.Windows);
    }

    [Fact]
    public void LaterReading_GivesRatesPercentilesBatchAndCpuOverTheTimeBetween()
    {
        DashboardSampler sampler = Sampler();
        sampler.Observe(Reading(success: 100, failure: 1, inferences: 100, executions: 100, cpuSeconds: 10));
        _clock.Advance(TimeSpan.FromSeconds(2));

        // 20 more requests, 4 of them failed, all between 0.5 and 1 ms; 40 inferences in 10 executions.
        DashboardView view = sampler.Observe(Reading(success: 116, failure: 5, latencies: Latencies(LatencyHistograms.Bounds.ToList().IndexOf(0.001), 20), inferences: 140,
            executions: 110, cpuSeconds: 11));

        VersionWindow window = view.WindowOf(view.Reading.Models[0].Versions[0])!;
        Assert.Equal(2, window.Seconds);
        Assert.Equal(10, window.RequestsPerSecond);
        Assert.Equal(2, window.FailuresPerSecond);
        Assert.Equal(20, window.InferencesPerSecond);
        Assert.Equal(4, window.MeanBatchSize);
        Assert.Equal(0.00075, window.P50Seconds!.Value, 9); // halfway through (0.5 ms, 1 ms]
        Assert.Equal(25, view.CpuPercent); // one CPU second in two seconds on two cores
    }

    [Fact]
    public void ReadingsCloserThanTheMinimumSpacing_GiveNoRates()
    {
        DashboardSampler sampler = Sampler();
        sampler.Observe(Reading(success: 0));
        _clock.Advance(DashboardSampler.MinimumSpacing / 5);

        DashboardView view = sampler.Observe(Reading(success: 3));

        Assert.Empty(view.Windows);
        Assert.Null(view.CpuPercent);
    }

    [Fact]
    public void Rates_CoverOnlyTheWindow()
    {
        DashboardSampler sampler = Sampler();
        sampler.Observe(Reading(success: 0));
        _clock.Advance(DashboardSampler.Window + TimeSpan.FromSeconds(1));
        sampler.Observe(Reading(success: 1000)); // a burst long ago
        _clock.Advance(TimeSpan.FromSeconds(5));

        DashboardView view = sampler.Observe(Reading(success: 1010));

        VersionWindow window = view.WindowOf(view.Reading.Models[0].Versions[0])!;
        Assert.Equal(5, window.Seconds);
        Assert.Equal(2, window.RequestsPerSecond);
    }

    [Fact]
    public void AReloadedVersion_IsComparedOnlyWithReadingsOfTheSameLoad()
    {
        DashboardSampler sampler = Sampler();
        sampler.Observe(Reading(success: 500));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Guid reloaded = Guid.NewGuid();

        // The reload's statistics start again at zero: comparing with the old load would give a negative rate.
        DashboardView first = sampler.Observe(Reading(success: 2, load: reloaded));
        _clock.Advance(DashboardSampler.MinimumSpacing / 5);
        DashboardView soon = sampler.Observe(Reading(success: 3, load: reloaded));
        _clock.Advance(TimeSpan.FromSeconds(1) - (DashboardSampler.MinimumSpacing / 5));
        DashboardView second = sampler.Observe(Reading(success: 6, load: reloaded));

        Assert.Empty(first.Windows);
        Assert.Empty(soon.Windows); // the new load's only earlier reading is too close for a rate
        Assert.Equal(4, second.WindowOf(second.Reading.Models[0].Versions[0])!.RequestsPerSecond);
    }

    [Fact]
    public void AnIdleWindow_HasZeroRatesAndNoPercentiles()
    {
        DashboardSampler sampler = Sampler();
        sampler.Observe(Reading(success: 7, latencies: Latencies(3, 7)));
        _clock.Advance(TimeSpan.FromSeconds(1));

        DashboardView view = sampler.Observe(Reading(success: 7, latencies: Latencies(3, 7)));

        VersionWindow window = view.WindowOf(view.Reading.Models[0].Versions[0])!;
        Assert.Equal(0, window.RequestsPerSecond);
        Assert.Null(window.P50Seconds);
        Assert.Null(window.P99Seconds);
        Assert.Null(window.MeanBatchSize);
    }
}
