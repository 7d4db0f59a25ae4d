using Quiver.Core.Routing;
using Quiver.Core.Routing.Statistics;

namespace Quiver.Core.Tests.Routing;

/// <summary>Thompson sampling moves an experiment's unkeyed traffic to the variant that converts better.</summary>
public sealed class BanditTests
{
    private static ServingEndpoint Bandit(bool bandit) => new(
        VariantSplit.Create("offers", [new Variant("a", "m", "1", 50), new Variant("b", "m", "2", 50)]),
        new ExperimentSpec(ExperimentSpec.Binary, 100, Bandit: bandit));

    private static int ServedByB(EndpointTable table, ServingEndpoint endpoint, Random outcomes, int requests, ref int id)
    {
        int servedByB = 0;
        for (int i = 0; i < requests; i++, id++)
        {
            Variant variant = table.Route("offers", endpoint, null);
            string request = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            table.Experiments.Assign(request, "offers", variant.Name, DateTimeOffset.UtcNow);
            double rate = variant.Name == "b" ? 0.5 : 0.1;
            table.Experiments.Record(request, outcomes.NextDouble() < rate ? 1 : 0, endpoint, "offers", DateTimeOffset.UtcNow);
            servedByB += variant.Name == "b" ? 1 : 0;
        }

        return servedByB;
    }

    [Fact]
    public void Bandit_ShiftsTrafficToTheBetterVariant_WhileFixedWeightsDoNot()
    {
        var table = new EndpointTable();
        ServingEndpoint bandit = Bandit(true);
        int id = 0;
        ServedByB(table, bandit, new Random(1), 300, ref id);
        int late = ServedByB(table, bandit, new Random(2), 500, ref id);

        var fixedTable = new EndpointTable();
        int fixedId = 0;
        int fixedLate = ServedByB(fixedTable, Bandit(false), new Random(2), 500, ref fixedId);

        Assert.True(late > 450, $"the bandit gave the better variant {late} of the last 500 requests");
        Assert.InRange(fixedLate, 250 - 56, 250 + 56); // 50/50 within 5 standard deviations
    }

    [Theory]
    [InlineData(2.0, 5.0)]
    [InlineData(0.5, 0.5)]
    [InlineData(30, 3)]
    public void BetaDraws_HaveTheDistributionsMean(double a, double b)
    {
        var random = new Random(11);
        double sum = 0;
        const int Draws = 20_000;
        for (int i = 0; i < Draws; i++)
        {
            double draw = BetaSampler.Next(random, a, b);
            Assert.InRange(draw, 0, 1);
            sum += draw;
        }

        // Beta(a, b) has mean a / (a + b) and a standard deviation at most 0.5, so the mean of 20,000 draws is within 0.02.
        Assert.Equal(a / (a + b), sum / Draws, 0.02);
    }

    [Fact]
    public void Bandit_NeedsTheBinaryMetric()
    {
        var split = VariantSplit.Create("e", [new Variant("a", "m", "1", 50), new Variant("b", "m", "2", 50)]);

        Assert.Contains("binary", Assert.Throws<ArgumentException>(() =>
            ExperimentSpec.Check(new ExperimentSpec(ExperimentSpec.Numeric, 100, Bandit: true), split)).Message);
    }
}
