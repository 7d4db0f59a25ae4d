using Quiver.Core.Routing.Statistics;

namespace Quiver.Core.Tests.Routing;

/// <summary>
/// The experiment statistics against reference values computed independently with SciPy 1.10 (scipy.stats.norm,
/// scipy.stats.t, scipy.stats.ttest_ind with equal_var=False; the commands are in the comments), recorded here so the
/// tests need no Python. Plus an A/A simulation for the sequential test's false-positive rate.
/// </summary>
public sealed class ExperimentStatisticsTests
{
    // stats.norm.cdf(z)
    [Theory]
    [InlineData(1.96, 0.9750021048517795)]
    [InlineData(-3, 0.0013498980316300933)]
    [InlineData(0.5, 0.6914624612740131)]
    [InlineData(6.0, 0.9999999990134123)]
    [InlineData(-8.5, 9.47953482220325e-18)]
    public void NormalCdf_MatchesScipy(double z, double expected) =>
        Assert.Equal(expected, Distributions.NormalCdf(z), expected * 1e-9);

    // 2 * stats.t.sf(abs(t), df)
    [Theory]
    [InlineData(2.0, 10, 0.07338803477074039)]
    [InlineData(2.228138852, 10, 0.04999999999883648)]
    [InlineData(1.5, 3.7, 0.2135981692020133)]
    [InlineData(5, 1, 0.12566591637800234)]
    [InlineData(0.1, 200, 0.9204444925043209)]
    [InlineData(-3.2, 7.25, 0.014371344768516233)]
    public void StudentTwoSidedP_MatchesScipy(double t, double df, double expected) =>
        Assert.Equal(expected, Distributions.StudentTwoSidedP(t, df), expected * 1e-9);

    [Fact]
    public void NormalQuantile_InvertsTheCdf() => Assert.Equal(1.959963984540054, Distributions.NormalQuantile(0.975), 1e-9);

    // z = (p2 - p1) / sqrt(p(1-p)(1/n1 + 1/n2)) with the pooled p; p = 2 * stats.norm.sf(abs(z))
    [Theory]
    [InlineData(200, 1000, 250, 1000, 2.677397763008329, 0.007419649261025687)]
    [InlineData(0, 500, 5, 500, 2.2416791983111017, 0.024982113243368558)]
    [InlineData(30, 100, 18, 90, -1.5839200790764056, 0.11321190745396498)]
    public void TwoProportionZ_MatchesScipy(long xa, long na, long xb, long nb, double z, double p)
    {
        Comparison result = HypothesisTests.TwoProportionZ(xa, na, xb, nb);

        Assert.Equal(z, result.Statistic, 1e-9);
        Assert.Equal(p, result.PValue, p * 1e-8);
        Assert.Equal(((double)xb / nb) - ((double)xa / na), result.Difference, 1e-12);
        Assert.True(result.Lower < result.Difference && result.Difference < result.Upper);
    }

    [Theory]
    [InlineData(0, 100, 0, 100)] // zero conversions anywhere
    [InlineData(100, 100, 50, 50)] // everything converts
    [InlineData(12, 40, 12, 40)] // identical variants
    public void TwoProportionZ_WithoutEvidence_IsPOne(long xa, long na, long xb, long nb)
    {
        Comparison result = HypothesisTests.TwoProportionZ(xa, na, xb, nb);

        Assert.Equal(0, result.Statistic);
        Assert.Equal(1, result.PValue);
    }

    // r = stats.ttest_ind(b, a, equal_var=False); df by Welch–Satterthwaite; interval d ± stats.t.ppf(0.975, df) * se
    [Fact]
    public void Welch_MatchesScipy()
    {
        var a = new SampleSummary(8, 13.5125, 1.5583928571428574);
        var b = new SampleSummary(11, 16.13636363636364, 1.5765454545454545);

        Comparison result = HypothesisTests.Welch(a, b);

        Assert.Equal(15.294287854244585, HypothesisTests.WelchDegreesOfFreedom(a, b), 1e-9);
        Assert.Equal(4.512372230727048, result.Statistic, 1e-9);
        Assert.Equal(0.00039429925822871334, result.PValue, 1e-12);
        Assert.Equal(1.3865377724147727, result.Lower, 1e-7);
        Assert.Equal(3.861189500312509, result.Upper, 1e-7);
    }

    [Fact]
    public void Welch_TinySamples_MatchScipy()
    {
        Comparison result = HypothesisTests.Welch(new SampleSummary(2, 1.5, 0.5), new SampleSummary(2, 3.25, 3.125));

        Assert.Equal(1.299867367239363, result.Statistic, 1e-9);
        Assert.Equal(0.37637364353066805, result.PValue, 1e-9);
        Assert.Equal(-8.193165649204307, result.Lower, 1e-6);
        Assert.Equal(11.693165649204307, result.Upper, 1e-6);
    }

    [Fact]
    public void Welch_ConstantOutcomes_NoDifferenceIsPOne_AndTooFewOutcomesAreRefused()
    {
        Assert.Equal(1, HypothesisTests.Welch(new SampleSummary(5, 2, 0), new SampleSummary(5, 2, 0)).PValue);
        Assert.Equal(0, HypothesisTests.Welch(new SampleSummary(5, 2, 0), new SampleSummary(5, 3, 0)).PValue);
        Assert.Throws<ArgumentException>(() => HypothesisTests.Welch(new SampleSummary(1, 2, 0), new SampleSummary(5, 3, 1)));
    }

    // Λ = sqrt(V / (V + τ²)) · exp(Δ² τ² / (2 V (V + τ²))), computed here term by term as the reference.
    [Theory]
    [InlineData(0.0, 0.01, 0.04)]
    [InlineData(0.05, 0.0004, 0.0025)]
    [InlineData(-0.3, 0.02, 0.1)]
    public void LikelihoodRatio_IsTheNormalMixtureRatio(double difference, double variance, double tau2)
    {
        double shrink = Math.Sqrt(variance / (variance + tau2));
        double exponent = difference * difference * tau2 / (2 * variance * (variance + tau2));

        Assert.Equal(shrink * Math.Exp(exponent), SequentialTest.LikelihoodRatio(difference, variance, tau2), 1e-12);
    }

    [Fact]
    public void SequentialTest_AOnA_FalsePositivesStayUnderAlphaWhilePeekingEveryFiftyOutcomes()
    {
        const double Alpha = 0.05;
        const int Experiments = 400;
        var random = new Random(20261125);
        int falsePositives = 0;
        for (int experiment = 0; experiment < Experiments; experiment++)
        {
            var test = new SequentialTest(mixtureVariance: 0.05 * 0.05);
            long conversionsA = 0, conversionsB = 0;
            for (int n = 1; n <= 2000; n++)
            {
                conversionsA += random.NextDouble() < 0.2 ? 1 : 0;
                conversionsB += random.NextDouble() < 0.2 ? 1 : 0;
                if (n % 50 == 0 && test.Observe(SampleSummary.FromConversions(conversionsA, n), SampleSummary.FromConversions(conversionsB, n)) <= Alpha)
                {
                    falsePositives++;
                    break;
                }
            }
        }

        Assert.True(falsePositives <= Alpha * Experiments, $"{falsePositives} of {Experiments} A/A experiments rejected");
    }

    [Fact]
    public void SequentialTest_ARealDifference_IsFound()
    {
        var random = new Random(7);
        var test = new SequentialTest(mixtureVariance: 0.05 * 0.05);
        long conversionsA = 0, conversionsB = 0;
        double p = 1;
        for (int n = 1; n <= 5000 && p > 0.05; n++)
        {
            conversionsA += random.NextDouble() < 0.20 ? 1 : 0;
            conversionsB += random.NextDouble() < 0.26 ? 1 : 0;
            p = test.Observe(SampleSummary.FromConversions(conversionsA, n), SampleSummary.FromConversions(conversionsB, n));
        }

        Assert.True(p <= 0.05, $"a 6-point lift not detected in 5000 outcomes per variant (p = {p})");
    }
}
