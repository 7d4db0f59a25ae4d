namespace Quiver.Core.Monitoring.Drift;

/// <summary>The two drift measures, on one feature's baseline and live samples.</summary>
public static class DriftStatistics
{
    /// <summary>
    /// Population Stability Index over <paramref name="bins"/> bins cut at the baseline's quantiles:
    /// Σ (live − base) · ln(live / base) over bin fractions. Below 0.1 is usually read as stable, above
    /// 0.25 as a shift. Empty bins get a tiny fraction so the logarithm stays finite.
    /// </summary>
    public static double PopulationStabilityIndex(double[] sortedBaseline, double[] live, int bins = 10)
    {
        if (sortedBaseline.Length == 0 || live.Length == 0)
        {
            return 0;
        }

        double[] edges = QuantileEdges(sortedBaseline, bins);
        double[] expected = Fractions(sortedBaseline, edges);
        double[] actual = Fractions(live, edges);
        double psi = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = Math.Max(expected[i], 1e-4);
            double a = Math.Max(actual[i], 1e-4);
            psi += (a - e) * Math.Log(a / e);
        }

        return psi;
    }

    /// <summary>The two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical distributions.</summary>
    public static double KolmogorovSmirnov(double[] sortedBaseline, double[] live)
    {
        if (sortedBaseline.Length == 0 || live.Length == 0)
        {
            return 0;
        }

        double[] sortedLive = [.. live];
        Array.Sort(sortedLive);
        int i = 0, j = 0;
        double d = 0;
        while (i < sortedBaseline.Length && j < sortedLive.Length)
        {
            double x = Math.Min(sortedBaseline[i], sortedLive[j]);
            while (i < sortedBaseline.Length && sortedBaseline[i] <= x)
            {
                i++;
            }

            while (j < sortedLive.Length && sortedLive[j] <= x)
            {
                j++;
            }

            d = Math.Max(d, Math.Abs(((double)i / sortedBaseline.Length) - ((double)j / sortedLive.Length)));
        }

        return d;
    }

    /// <summary>The KS statistic above which the samples differ at the 5% level: 1.358 · √((n + m) / (n · m)).</summary>
    public static double KolmogorovSmirnovCritical(int n, int m) => n == 0 || m == 0 ? double.PositiveInfinity : 1.358 * Math.Sqrt((double)(n + m) / ((double)n * m));

    private static double[] QuantileEdges(double[] sorted, int bins)
    {
        var edges = new double[bins - 1];
        for (int k = 1; k < bins; k++)
        {
            edges[k - 1] = sorted[(int)((long)k * (sorted.Length - 1) / bins)];
        }

        return edges;
    }

    private static double[] Fractions(double[] values, double[] edges)
    {
        var counts = new double[edges.Length + 1];
        foreach (double value in values)
        {
            int bin = Array.BinarySearch(edges, value);
            counts[bin >= 0 ? bin : ~bin]++;
        }

        for (int i = 0; i < counts.Length; i++)
        {
            counts[i] /= values.Length;
        }

        return counts;
    }
}
