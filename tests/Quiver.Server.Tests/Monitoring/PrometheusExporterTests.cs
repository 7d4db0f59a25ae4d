using System.Diagnostics.Metrics;
using Quiver.Server.Monitoring;

namespace Quiver.Server.Tests.Monitoring;

public sealed class PrometheusExporterTests
{
    [Fact]
    public void LabelValues_WithBackslashQuoteAndNewline_RoundTripThroughTheStrictParser()
    {
        using var meter = new Meter("Quiver");
        const string value = "a\\b\"c\nd";
        meter.CreateObservableGauge("test_gauge", () => new Measurement<long>(7, new KeyValuePair<string, object?>("model", value)));
        using var exporter = new PrometheusExporter(meter);

        PrometheusText metrics = PrometheusText.Parse(exporter.Scrape());

        Assert.Equal(7, metrics.Value("test_gauge", ("model", value)));
    }

    [Fact]
    public void Histogram_IsCumulativeWithSumAndCount()
    {
        using var meter = new Meter("Quiver");
        Histogram<double> histogram = meter.CreateHistogram<double>("test_seconds");
        using var exporter = new PrometheusExporter(meter);
        histogram.Record(0.0003);
        histogram.Record(0.002);
        histogram.Record(42);

        PrometheusText metrics = PrometheusText.Parse(exporter.Scrape());

        Assert.Equal(0, metrics.Value("test_seconds_bucket", ("le", "0.0001")));
        Assert.Equal(1, metrics.Value("test_seconds_bucket", ("le", "0.0005")));
        Assert.Equal(2, metrics.Value("test_seconds_bucket", ("le", "0.0025")));
        Assert.Equal(3, metrics.Value("test_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(3, metrics.Value("test_seconds_count"));
        Assert.Equal(42.0023, metrics.Value("test_seconds_sum"), 6);
    }

    [Fact]
    public void Counter_SeriesByTagValues_WhateverTheTagOrder_AndNewTagsMakeNewSeries()
    {
        using var meter = new Meter("Quiver");
        Counter<long> counter = meter.CreateCounter<long>("test_requests");
        using var exporter = new PrometheusExporter(meter);
        KeyValuePair<string, object?> m1 = new("model", "m"), v1 = new("version", "1"), v2 = new("version", "2");
        counter.Add(1, m1, v1);
        counter.Add(2, v1, m1); // the same series, tags in another order
        counter.Add(4, m1, v2);
        counter.Add(8, m1, new KeyValuePair<string, object?>("version", 2L)); // 2L prints as "2": the same series too

        PrometheusText metrics = PrometheusText.Parse(exporter.Scrape());

        Assert.Equal(3, metrics.Value("test_requests_total", ("model", "m"), ("version", "1")));
        Assert.Equal(12, metrics.Value("test_requests_total", ("model", "m"), ("version", "2")));
    }

    [Fact]
    public void ObservedSeries_ThatVanish_LeaveTheScrape()
    {
        using var meter = new Meter("Quiver");
        string[] models = ["a", "b"];
        meter.CreateObservableGauge("test_ready", () => models.Select(m => new Measurement<long>(1, new KeyValuePair<string, object?>("model", m))));
        using var exporter = new PrometheusExporter(meter);
        Assert.Equal(1, PrometheusText.Parse(exporter.Scrape()).Value("test_ready", ("model", "b")));

        models = ["a"];
        string scrape = exporter.Scrape();

        Assert.Equal(1, PrometheusText.Parse(scrape).Value("test_ready", ("model", "a")));
        Assert.DoesNotContain("model=\"b\"", scrape);
    }

    [Fact]
    public void Counter_GetsTheTotalSuffix_AndSums()
    {
        using var meter = new Meter("Quiver");
        Counter<long> counter = meter.CreateCounter<long>("test_things");
        using var exporter = new PrometheusExporter(meter);
        counter.Add(2);
        counter.Add(3);

        PrometheusText metrics = PrometheusText.Parse(exporter.Scrape());

        Assert.Equal("counter", metrics.TypeOf("test_things_total"));
        Assert.Equal(5, metrics.Value("test_things_total"));
    }

    [Fact]
    public void AnotherServersMeter_IsNotExported()
    {
        using var mine = new Meter("Quiver");
        using var theirs = new Meter("Quiver");
        theirs.CreateObservableGauge("their_gauge", () => 1);
        using var exporter = new PrometheusExporter(mine);

        Assert.Null(PrometheusText.Parse(exporter.Scrape()).TypeOf("their_gauge"));
    }
}
