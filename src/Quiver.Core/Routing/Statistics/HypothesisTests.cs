namespace Quiver.Core.Routing.Statistics;

/// <summary>A variant's outcomes so far: count, mean and sample variance (for binary outcomes, the conversion rate and p(1-p)·n/(n-1)).</summary>
public readonly record struct SampleSummary(long Count, double Mean, double Variance)
{
    /// <summary>A binary metric's summary from its conversions.</summary>
    public static SampleSummary FromConversions(long conversions, long count)
    {
        if (count <= 0)
        {
            return new SampleSummary(0, 0, 0);
        }

        double rate = (double)conversions / count;
        return new SampleSummary(count, rate, count > 1 ? rate * (1 - rate) * count / (count - 1) : 0);
    }
}

/// <summary>A comparison of variant B against A: B's mean minus A's, its confidence interval, the statistic and its p-value.</summary>
public sealed record Comparison(double Difference, double Lower, double Upper, double Statistic, double PValue);

/// <summary>
/// Fixed-horizon tests, valid when read once at a sample size chosen in advance: the two-proportion z-test for
/// conversions and Welch's t-test for numeric outcomes with unequal variances.
/// </summary>
public static class HypothesisTests
{
    /// <summary>Two-sided two-proportion z-test with the pooled standard error; the interval uses the unpooled one.</summary>
    public static Comparison TwoProportionZ(long conversionsA, long countA, long conversionsB, long countB, double confidence = 0.95)
    {
        RequireCounts(countA, countB);
        double rateA = (double)conversionsA / countA, rateB = (double)conversionsB / countB;
        double pooled = (double)(conversionsA + conversionsB) / (countA + countB);
        double pooledError = Math.Sqrt(pooled * (1 - pooled) * ((1.0 / countA) + (1.0 / countB)));
        double difference = rateB - rateA;

        // Both variants all-or-nothing alike: no variation, no evidence of a difference.
        double z = pooledError == 0 ? 0 : difference / pooledError;
        double error = Math.Sqrt((rateA * (1 - rateA) / countA) + (rateB * (1 - rateB) / countB));
        double margin = Distributions.NormalQuantile(0.5 + (confidence / 2)) * error;
        return new Comparison(difference, difference - margin, difference + margin, z, pooledError == 0 ? 1 : Distributions.NormalTwoSidedP(z));
    }

    /// <summary>Two-sided Welch's t-test (unequal variances, Welch–Satterthwaite degrees of freedom).</summary>
    public static Comparison Welch(SampleSummary a, SampleSummary b, double confidence = 0.95)
    {
        if (a.Count < 2 || b.Count < 2)
        {
            throw new ArgumentException("Welch's t-test needs at least two outcomes per variant.");
        }

        double va = a.Variance / a.Count, vb = b.Variance / b.Count;
        double difference = b.Mean - a.Mean;
        double error = Math.Sqrt(va + vb);
        if (error == 0)
        {
            // Constant outcomes: equal means are no difference; unequal ones are as certain as data gets.
            return new Comparison(difference, difference, difference, difference == 0 ? 0 : double.PositiveInfinity * Math.Sign(difference),
                difference == 0 ? 1 : 0);
        }

        double df = WelchDegreesOfFreedom(a, b);
        double t = difference / error;
        double margin = StudentQuantile(0.5 + (confidence / 2), df) * error;
        return new Comparison(difference, difference - margin, difference + margin, t, Distributions.StudentTwoSidedP(t, df));
    }

    /// <summary>The Welch–Satterthwaite degrees of freedom.</summary>
    public static double WelchDegreesOfFreedom(SampleSummary a, SampleSummary b)
    {
        double va = a.Variance / a.Count, vb = b.Variance / b.Count;
        return ((va + vb) * (va + vb)) / ((va * va / (a.Count - 1)) + (vb * vb / (b.Count - 1)));
    }

    // The t with P(T ≤ t) = p, by bisection on the two-sided tail (p > 0.5 here).
    private static double StudentQuantile(double p, double df)
    {
        double tail = 2 * (1 - p);
        double low = 0, high = 1e6;
        for (int i = 0; i < 200 && high - low > 1e-12 * Math.Max(1, high); i++)
        {
            double middle = (low + high) / 2;
            (low, high) = Distributions.StudentTwoSidedP(middle, df) > tail ? (middle, high) : (low, middle);
        }

        return (low + high) / 2;
    }

    private static void RequireCounts(long countA, long countB)
    {
        if (countA <= 0 || countB <= 0)
        {
            throw new ArgumentException("Each variant needs at least one outcome.");
        }
    }
}

/// <summary>
/// The mixture sequential probability ratio test (mSPRT) for a difference of means: with a normal mixture N(0, τ²)
/// over the difference, the likelihood ratio Λ of the observed difference against "no difference" is a
/// martingale under the null, so 1 / max Λ is a p-value that stays valid however often it is looked at.
/// The variance of the difference is estimated, so the guarantee is asymptotic: the test takes no look before
/// <see cref="MinimumPerArm"/> outcomes per variant, and for conversions it uses the pooled rate smoothed by one
/// success and one failure, which cannot collapse to 0 when both arms happen to be all 0s or all 1s.
/// </summary>
public sealed class SequentialTest(double mixtureVariance, bool binary)
{
    /// <summary>
    /// Outcomes each variant needs before the first look. With fewer, the plug-in variance is too noisy for the
    /// normal approximation the guarantee rests on (two per arm, all 0 against all 1, once gave p = 0); the A/A
    /// simulations in the tests, peeking at every outcome from 30 on, stay at or under alpha.
    /// </summary>
    public const long MinimumPerArm = 30;

    private double _alwaysValidP = 1;

    /// <summary>τ², the variance of the mixture over effect sizes; about the square of the effect worth detecting.</summary>
    public double MixtureVariance { get; } = mixtureVariance > 0 ? mixtureVariance : throw new ArgumentOutOfRangeException(nameof(mixtureVariance));

    /// <summary>The always-valid p-value so far: the smallest 1/Λ seen at any look.</summary>
    public double PValue => _alwaysValidP;

    /// <summary>
    /// ln Λ for an observed difference whose estimate has variance <paramref name="variance"/>. Without variation
    /// (variance 0) there is nothing to weigh the difference against, so it is no evidence: ln Λ = 0.
    /// </summary>
    public static double LogLikelihoodRatio(double difference, double variance, double mixtureVariance)
    {
        if (!(variance > 0) || !double.IsFinite(difference))
        {
            return 0;
        }

        double total = variance + mixtureVariance;
        return (0.5 * Math.Log(variance / total)) + (difference * difference * mixtureVariance / (2 * variance * total));
    }

    /// <summary>Λ itself, capped at <see cref="double.MaxValue"/> so it is never infinite.</summary>
    public static double LikelihoodRatio(double difference, double variance, double mixtureVariance) =>
        Math.Min(double.MaxValue, Math.Exp(LogLikelihoodRatio(difference, variance, mixtureVariance)));

    /// <summary>The variance of B's mean minus A's as the test estimates it (see the type's summary).</summary>
    public static double DifferenceVariance(SampleSummary a, SampleSummary b, bool binary)
    {
        if (!binary)
        {
            return (a.Variance / a.Count) + (b.Variance / b.Count);
        }

        double conversions = (a.Mean * a.Count) + (b.Mean * b.Count);
        double smoothed = (conversions + 1) / (a.Count + b.Count + 2);
        return smoothed * (1 - smoothed) * ((1.0 / a.Count) + (1.0 / b.Count));
    }

    /// <summary>Takes a look at the data so far and returns the always-valid p-value after it.</summary>
    public double Observe(SampleSummary a, SampleSummary b)
    {
        if (a.Count < MinimumPerArm || b.Count < MinimumPerArm)
        {
            return _alwaysValidP;
        }

        double logLambda = LogLikelihoodRatio(b.Mean - a.Mean, DifferenceVariance(a, b, binary), MixtureVariance);
        _alwaysValidP = Math.Min(_alwaysValidP, logLambda <= 0 ? 1 : Math.Exp(-logLambda));
        return _alwaysValidP;
    }
}
