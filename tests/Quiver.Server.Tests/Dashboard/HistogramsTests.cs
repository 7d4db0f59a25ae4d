using Quiver.Server.Dashboard;

namespace Quiver.Server.Tests.Dashboard;

public sealed class HistogramsTests
{
    private static readonly double[] s_bounds = [1, 2, 4];

    [Fact]
    public void Quantile_InterpolatesInsideTheBucketItFallsIn()
    {
        Assert.Equal(1.5, Histograms.Quantile(s_bounds, [0, 10, 0, 0], 0.5));
        Assert.Equal(3.6, Histograms.Quantile(s_bounds, [0, 5, 5, 0], 0.9)!.Value, 9);
    }

    [Fact]
    public void Quantile_OfTheFirstBucket_StartsAtZero()
    {
        Assert.Equal(0.5, Histograms.Quantile(s_bounds, [4, 0, 0, 0], 0.5));
    }

    [Fact]
    public void Quantile_InTheInfiniteBucket_IsTheHighestFiniteBound()
    {
        Assert.Equal(4, Histograms.Quantile(s_bounds, [1, 0, 0, 99], 0.99));
    }

    [Fact]
    public void Quantile_WithNoObservation_IsNull()
    {
        Assert.Null(Histograms.Quantile(s_bounds, [0, 0, 0, 0], 0.5));
    }

    [Fact]
    public void Quantile_SkipsEmptyBuckets()
    {
        // Ten observations in (2, 4]: the median lies in that bucket, not at the empty (1, 2] before it.
        Assert.Equal(3, Histograms.Quantile(s_bounds, [0, 0, 10, 0], 0.5));
    }
}
