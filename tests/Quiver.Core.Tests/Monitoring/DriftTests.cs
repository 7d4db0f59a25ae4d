using System.Runtime.InteropServices;
using Quiver.Core.Monitoring.Drift;
using Quiver.Core.Tensors;

namespace Quiver.Core.Tests.Monitoring;

public sealed class DriftTests
{
    private static double[] Normal(Random random, int count, double mean = 0, double deviation = 1) =>
        Enumerable.Range(0, count).Select(_ => mean + (deviation * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()))).ToArray();

    [Fact]
    public void Psi_IsSmallForTheSameDistribution_AndLargeForAShiftedOne()
    {
        var random = new Random(1);
        double[] baseline = Normal(random, 2000);
        Array.Sort(baseline);

        double same = DriftStatistics.PopulationStabilityIndex(baseline, Normal(random, 2000));
        double shifted = DriftStatistics.PopulationStabilityIndex(baseline, Normal(random, 2000, mean: 1));

        Assert.True(same < 0.05, $"same distribution gave PSI {same}");
        Assert.True(shifted > 0.25, $"shifted distribution gave PSI {shifted}");
    }

    [Fact]
    public void KolmogorovSmirnov_IsTheLargestGapBetweenTheEmpiricalDistributions()
    {
        Assert.Equal(0, DriftStatistics.KolmogorovSmirnov([1, 2, 3, 4], [1, 2, 3, 4]));
        Assert.Equal(1, DriftStatistics.KolmogorovSmirnov([1, 2, 3, 4], [10, 11, 12]));
        Assert.Equal(0.5, DriftStatistics.KolmogorovSmirnov([1, 2, 3, 4], [3, 4, 5, 6]), 9);
    }

    private static InferenceTensor Rows(double[][] columns)
    {
        int rows = columns[0].Length;
        var values = new float[rows * columns.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns.Length; c++)
            {
                values[(r * columns.Length) + c] = (float)columns[c][r];
            }
        }

        return new InferenceTensor("input", DataType.Fp32, [rows, columns.Length], MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }

    [Fact]
    public void Monitor_DriftedStream_IsDrifting_NamingTheFeature_WhileTheStableOneStaysOk()
    {
        var config = new DriftConfig(BaselineRows: 500, WindowRows: 500, MinimumWindowRows: 100);
        var drifted = new DriftMonitor(config);
        var stable = new DriftMonitor(config);
        var random = new Random(2);
        for (int batch = 0; batch < 10; batch++)
        {
            InferenceTensor rows = Rows([Normal(random, 50), Normal(random, 50), Normal(random, 50)]);
            drifted.Observe([rows], []);
            stable.Observe([rows], []);
        }

        for (int batch = 0; batch < 10; batch++)
        {
            drifted.Observe([Rows([Normal(random, 50), Normal(random, 50, mean: 1.5), Normal(random, 50)])], []);
            stable.Observe([Rows([Normal(random, 50), Normal(random, 50), Normal(random, 50)])], []);
        }

        DriftReport drift = drifted.Report();
        DriftReport calm = stable.Report();
        Assert.Equal(DriftState.Drifting, drift.State);
        Assert.Equal("input[1]", drift.Features[0].Feature);
        Assert.All(drift.Features.Skip(1), f => Assert.NotEqual(DriftState.Drifting, f.State));
        Assert.Equal(DriftState.Ok, calm.State);
        Assert.Equal((500, 500), (drift.BaselineRows, drift.WindowRows));
    }

    [Fact]
    public void Monitor_BeforeEnoughLiveRows_IsOk()
    {
        var monitor = new DriftMonitor(new DriftConfig(BaselineRows: 10, WindowRows: 100, MinimumWindowRows: 50));
        monitor.Observe([Rows([Enumerable.Range(0, 10).Select(i => (double)i).ToArray()])], []);
        monitor.Observe([Rows([Enumerable.Repeat(1000.0, 20).ToArray()])], []);

        Assert.Equal(DriftState.Ok, monitor.Report().State);
    }

    [Fact]
    public void UploadedBaseline_ReplacesTheCapturedOne()
    {
        var monitor = new DriftMonitor(new DriftConfig(BaselineRows: 100, WindowRows: 200, MinimumWindowRows: 100));
        var random = new Random(3);
        monitor.SetBaseline(new Dictionary<string, double[]> { ["input[0]"] = Normal(random, 500, mean: 5) });

        monitor.Observe([Rows([Normal(random, 200)])], []);

        DriftReport report = monitor.Report();
        Assert.Equal("uploaded", report.Baseline);
        Assert.Equal(DriftState.Drifting, report.State); // live data around 0, training data around 5
    }

    [Fact]
    public void Monitor_SensitiveInputs_AreNeverSampled()
    {
        var monitor = new DriftMonitor(new DriftConfig(BaselineRows: 10, WindowRows: 10, MinimumWindowRows: 1), excluded: ["input"]);
        var random = new Random(5);
        InferenceTensor column = Rows([Normal(random, 20)]);
        var watched = new InferenceTensor("other", DataType.Fp32, column.Shape, column.Data.ToArray());

        monitor.Observe([Rows([Normal(random, 20), Normal(random, 20)]), watched], []);

        DriftReport report = monitor.Report();
        Assert.Equal(["other[0]"], report.Features.Select(f => f.Feature));
    }

    [Fact]
    public void StoredBaseline_KeepsOnlyTheFeaturesWatchedNow()
    {
        // "ssn[0]" was stored before the input was marked sensitive: it is dropped, not held, and loading goes on.
        Dictionary<string, double[]> baseline = DriftBaseline.ParseStored(
            """{"features": {"age[0]": [1, 2, 3], "ssn[0]": [4, 5, 6]}}""", ["age[0]"]);

        Assert.Equal(["age[0]"], baseline.Keys);
        Assert.Equal([1.0, 2.0, 3.0], baseline["age[0]"]);
    }
}
