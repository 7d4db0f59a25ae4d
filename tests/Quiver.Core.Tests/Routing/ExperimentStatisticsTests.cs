using Quiver.Core.Routing.Statistics;
using Quiver.Core.Routing;

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

    // The reviewer's case: two outcomes per arm, all 0 against all 1. The variance of each arm is 0; the test must not
    // read that as certainty (it once gave Λ = ∞, p = 0, and a winner).
    [Fact]
    public void SequentialTest_TwoOutcomesPerArm_AllZeroAgainstAllOne_IsNoEvidence()
    {
        var test = new SequentialTest(0.05 * 0.05, binary: true);

        Assert.Equal(1, test.Observe(SampleSummary.FromConversions(0, 2), SampleSummary.FromConversions(2, 2)));
        Assert.Equal(1, test.Observe(SampleSummary.FromConversions(0, 29), SampleSummary.FromConversions(29, 29)));
        Assert.Equal(1, test.PValue);
    }

    // Λ by numerical integration of the mixture, ∫ N(Δ; θ, V) N(θ; 0, τ²) dθ / N(Δ; 0, V) (Simpson's rule): a separate
    // route to the number from the closed form the test uses.
    private static double MixtureIntegral(double difference, double variance, double tau2)
    {
        static double Density(double x, double mean, double variance) =>
            Math.Exp(-(x - mean) * (x - mean) / (2 * variance)) / Math.Sqrt(2 * Math.PI * variance);

        double spread = 12 * Math.Sqrt(Math.Max(variance, tau2));
        double low = Math.Min(0, difference) - spread, high = Math.Max(0, difference) + spread;
        const int Intervals = 200_000;
        double h = (high - low) / Intervals, sum = 0;
        for (int i = 0; i <= Intervals; i++)
        {
            double theta = low + (i * h);
            double weight = i == 0 || i == Intervals ? 1 : i % 2 == 1 ? 4 : 2;
            sum += weight * Density(difference, theta, variance) * Density(theta, 0, tau2);
        }

        return sum * h / 3 / Density(difference, 0, variance);
    }

    [Theory]
    [InlineData(0.0, 0.01, 0.04)]
    [InlineData(0.05, 0.0004, 0.0025)]
    [InlineData(-0.3, 0.02, 0.1)]
    [InlineData(0.2, 0.001, 0.0025)]
    public void LikelihoodRatio_MatchesTheMixtureIntegral(double difference, double variance, double tau2) =>
        Assert.Equal(MixtureIntegral(difference, variance, tau2), SequentialTest.LikelihoodRatio(difference, variance, tau2),
            MixtureIntegral(difference, variance, tau2) * 1e-6);

    [Fact]
    public void LikelihoodRatio_IsNeverInfinite()
    {
        Assert.Equal(double.MaxValue, SequentialTest.LikelihoodRatio(1, 1e-300, 1));
        Assert.Equal(1, SequentialTest.LikelihoodRatio(0.5, 0, 0.0025)); // no variation: nothing to weigh a difference against
        Assert.Equal(1, SequentialTest.LikelihoodRatio(double.NaN, 0.01, 0.0025));
    }

    // Edge cases at the first look (30 per arm), each against the mixture integral with the variance worked out here:
    // conversions use the pooled rate smoothed by one success and one failure, q = (x_A + x_B + 1) / (n_A + n_B + 2),
    // and V = q (1 - q) (1/n_A + 1/n_B).
    [Theory]
    [InlineData(0, 30, 0, 30)] // zero conversions in both arms
    [InlineData(30, 30, 30, 30)] // everything converts in both
    [InlineData(6, 30, 6, 30)] // identical variants
    [InlineData(0, 30, 30, 30)] // all 0 against all 1 at the first look
    [InlineData(3, 30, 12, 30)]
    public void SequentialTest_EdgeCases_MatchTheMixtureIntegral(long xa, long na, long xb, long nb)
    {
        const double Tau2 = 0.05 * 0.05;
        double q = (xa + xb + 1.0) / (na + nb + 2);
        double variance = q * (1 - q) * ((1.0 / na) + (1.0 / nb));
        double lambda = MixtureIntegral(((double)xb / nb) - ((double)xa / na), variance, Tau2);
        double expected = lambda <= 1 ? 1 : 1 / lambda;

        double p = new SequentialTest(Tau2, binary: true).Observe(SampleSummary.FromConversions(xa, na), SampleSummary.FromConversions(xb, nb));

        Assert.Equal(expected, p, expected * 1e-6);
        Assert.True(p > 0, "a p-value of 0 would claim certainty from 30 outcomes per arm");
        if (xa * nb == xb * na)
        {
            Assert.Equal(1, p); // no difference in the means is no evidence, however the outcomes fall
        }
    }

    [Fact]
    public void SequentialTest_ConstantNumericOutcomes_AreNoEvidence()
    {
        var test = new SequentialTest(1, binary: false);

        Assert.Equal(1, test.Observe(new SampleSummary(40, 2, 0), new SampleSummary(40, 5, 0)));
    }

    // 1 of 3 against 3 of 3: pooled p = 2/3, z = (2/3) / sqrt(2/9 · 2/3) = √3; p = erfc(√3 / √2) (Python's math.erfc).
    // 0 of 2 against 2 of 2: pooled p = 1/2, z = 1 / sqrt(1/4 · 1) = 2; p = erfc(√2).
    [Theory]
    [InlineData(1, 3, 3, 3, 1.7320508075688772, 0.08326451666355043)]
    [InlineData(0, 2, 2, 2, 2.0, 0.04550026389635844)]
    public void TwoProportionZ_TinySamples_MatchTheHandComputation(long xa, long na, long xb, long nb, double z, double p)
    {
        Comparison result = HypothesisTests.TwoProportionZ(xa, na, xb, nb);

        Assert.Equal(z, result.Statistic, 1e-9);
        Assert.Equal(p, result.PValue, 1e-9);
    }

    // The reviewer's case through the ledger and the readout, as the server runs them: no winner from 2 outcomes per arm.
    [Fact]
    public void Readout_BelowTheFirstLook_DeclaresNoWinner()
    {
        (ExperimentLedger ledger, ServingEndpoint endpoint) = Experiment(minimumSamples: 1000);
        DateTimeOffset now = DateTimeOffset.UnixEpoch;
        Feed(ledger, endpoint, "control", [0, 0], now);
        Feed(ledger, endpoint, "treatment", [1, 1], now);

        ExperimentReadout readout = ExperimentReadout.Compute("ab", endpoint, ledger);

        Assert.Equal("continue", readout.Decision);
        Assert.Equal(1, ledger.SequentialP("ab", "treatment"));
    }

    [Fact]
    public void Readout_AClearDifference_AfterTheFirstLook_IsAWinnerBeforeTheMinimumSamples()
    {
        (ExperimentLedger ledger, ServingEndpoint endpoint) = Experiment(minimumSamples: 1000);
        DateTimeOffset now = DateTimeOffset.UnixEpoch;
        Feed(ledger, endpoint, "control", [.. Enumerable.Repeat(0.0, 40)], now);
        Feed(ledger, endpoint, "treatment", [.. Enumerable.Repeat(1.0, 40)], now);

        ExperimentReadout readout = ExperimentReadout.Compute("ab", endpoint, ledger);

        Assert.Equal("winner", readout.Decision);
        Assert.Equal("treatment", readout.Winner);
        Assert.InRange(ledger.SequentialP("ab", "treatment"), 1e-300, 0.05);
    }

    private static (ExperimentLedger, ServingEndpoint) Experiment(long minimumSamples, string metric = ExperimentSpec.Binary)
    {
        VariantSplit split = VariantSplit.Create("ab", [new Variant("control", "m", "1", 50), new Variant("treatment", "m", "2", 50)]);
        return (new ExperimentLedger(), new ServingEndpoint(split, ExperimentSpec.Check(new ExperimentSpec(metric, minimumSamples), split)));
    }

    private static int s_requests;

    private static void Feed(ExperimentLedger ledger, ServingEndpoint endpoint, string variant, double[] outcomes, DateTimeOffset now)
    {
        foreach (double outcome in outcomes)
        {
            string id = $"r{Interlocked.Increment(ref s_requests)}";
            ledger.Assign(id, "ab", variant, now);
            Assert.Equal(FeedbackOutcome.Recorded, ledger.Record(id, outcome, endpoint, "ab", now));
        }
    }

    // A/A: two identical variants, each outcome fed back through the ledger as the server does, so the sequential
    // test looks after EVERY outcome; over many simulated experiments the share that ever reaches alpha must stay at
    // or under alpha (the mSPRT's guarantee). Low, middle and high rates: smoothing matters most near 0 and 1.
    [Theory]
    [InlineData(0.2, 20261125)]
    [InlineData(0.03, 20261202)]
    [InlineData(0.9, 7)]
    public void SequentialTest_AOnA_PeekingAfterEveryOutcome_FalsePositivesStayAtOrUnderAlpha(double rate, int seed)
    {
        const double Alpha = 0.05;
        const int Experiments = 600, OutcomesPerExperiment = 2000;
        var random = new Random(seed);
        int falsePositives = 0;
        DateTimeOffset now = DateTimeOffset.UnixEpoch;
        for (int experiment = 0; experiment < Experiments; experiment++)
        {
            (ExperimentLedger ledger, ServingEndpoint endpoint) = Experiment(minimumSamples: 1_000_000);
            for (int i = 0; i < OutcomesPerExperiment; i++)
            {
                string variant = random.Next(2) == 0 ? "control" : "treatment";
                string id = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                ledger.Assign(id, "ab", variant, now);
                ledger.Record(id, random.NextDouble() < rate ? 1 : 0, endpoint, "ab", now);
                if (ledger.SequentialP("ab", "treatment") <= Alpha)
                {
                    Assert.Equal("winner", ExperimentReadout.Compute("ab", endpoint, ledger).Decision);
                    falsePositives++;
                    break;
                }
            }
        }

        Assert.True(falsePositives <= Alpha * Experiments, $"{falsePositives} of {Experiments} A/A experiments rejected at rate {rate}");
    }

    [Fact]
    public void SequentialTest_AOnA_NumericOutcomes_PeekingAfterEveryOutcome_StayAtOrUnderAlpha()
    {
        const double Alpha = 0.05;
        const int Experiments = 400;
        var random = new Random(11);
        int falsePositives = 0;
        for (int experiment = 0; experiment < Experiments; experiment++)
        {
            var test = new SequentialTest(1, binary: false);
            var a = new RunningSummary();
            var b = new RunningSummary();
            for (int i = 0; i < 2000; i++)
            {
                // Exponential rewards with mean 2: skewed, as revenue is.
                (random.Next(2) == 0 ? a : b).Add(-2 * Math.Log(1 - random.NextDouble()));
                if (test.Observe(a.Summary, b.Summary) <= Alpha)
                {
                    falsePositives++;
                    break;
                }
            }
        }

        Assert.True(falsePositives <= Alpha * Experiments, $"{falsePositives} of {Experiments} numeric A/A experiments rejected");
    }

    private sealed class RunningSummary
    {
        private readonly List<double> _values = [];

        public SampleSummary Summary { get; private set; }

        public void Add(double value)
        {
            _values.Add(value);
            double mean = _values.Average();
            Summary = new SampleSummary(_values.Count, mean, _values.Count > 1 ? _values.Sum(v => (v - mean) * (v - mean)) / (_values.Count - 1) : 0);
        }
    }

    [Fact]
    public void SequentialTest_ARealDifference_IsFound()
    {
        var random = new Random(7);
        var test = new SequentialTest(mixtureVariance: 0.05 * 0.05, binary: true);
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
