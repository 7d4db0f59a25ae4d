namespace Quiver.Server.Dashboard;

/// <summary>Quantiles of bucketed observations, computed as Prometheus's <c>histogram_quantile</c> does.</summary>
internal static class Histograms
{
    /// <summary>
    /// The <paramref name="q"/> quantile of observations counted per bucket (<paramref name="counts"/> has one more
    /// entry than <paramref name="bounds"/>: the +Inf bucket), interpolated linearly inside its bucket, the first
    /// bucket starting at 0. A quantile in the +Inf bucket is the highest finite bound. Null with no observation.
    /// </summary>
    public static double? Quantile(IReadOnlyList<double> bounds, IReadOnlyList<long> counts, double q)
    {
        long total = 0;
        foreach (long count in counts)
        {
            total += count;
        }

        if (total <= 0)
        {
            return null;
        }

        double rank = q * total;
        long below = 0;
        for (int i = 0; i < counts.Count; i++)
        {
            if (counts[i] > 0 && below + counts[i] >= rank)
            {
                if (i >= bounds.Count)
                {
                    return bounds[^1];
                }

                double lower = i == 0 ? 0 : bounds[i - 1];
                return lower + ((bounds[i] - lower) * (rank - below) / counts[i]);
            }

            below += counts[i];
        }

        return bounds[^1];
    }
}
