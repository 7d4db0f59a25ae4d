using Quiver.Core.Routing;

namespace Quiver.Core.Tests.Routing;

/// <summary>Weighted and sticky variant assignment (issue 6 groundwork).</summary>
public sealed class VariantSplitTests
{
    private static VariantSplit Split(params double[] weights) => VariantSplit.Create("fraud",
        weights.Select((w, i) => new Variant($"v{i}", "fraud", (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), w)).ToArray());

    private static void AssertSharesNearWeights(Func<int, Variant> pick, double[] weights, int requests)
    {
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < requests; i++)
        {
            string name = pick(i).Name;
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }

        for (int v = 0; v < weights.Length; v++)
        {
            // Within 4.5 standard deviations of a binomial count: a false alarm about once in 150,000 runs.
            double p = weights[v] / 100, expected = requests * p, sd = Math.Sqrt(requests * p * (1 - p));
            int observed = counts.GetValueOrDefault($"v{v}");
            Assert.True(Math.Abs(observed - expected) <= (4.5 * sd) + 1e-9, $"v{v}: {observed} of {requests}, expected about {expected}");
        }
    }

    [Fact]
    public void RandomPicks_OverTenThousandRequests_MatchTheWeights()
    {
        double[] weights = [70, 20, 10];
        VariantSplit split = Split(weights);

        AssertSharesNearWeights(_ => split.Pick(null), weights, 10_000);
    }

    [Fact]
    public void KeyedPicks_OverTenThousandUsers_MatchTheWeights_AndEveryUserKeepsTheirVariant()
    {
        double[] weights = [50, 30, 20];
        VariantSplit split = Split(weights);
        VariantSplit otherReplica = Split(weights);

        AssertSharesNearWeights(i => split.Pick($"user-{i}"), weights, 10_000);
        for (int i = 0; i < 1000; i++)
        {
            Variant first = split.Pick($"user-{i}");
            Assert.Equal(first, split.Pick($"user-{i}"));
            Assert.Equal(first, otherReplica.Pick($"user-{i}"));
        }
    }

    [Fact]
    public void ZeroWeightVariants_NeverServe()
    {
        VariantSplit split = Split(0, 100, 0);

        Assert.All(Enumerable.Range(0, 2000), i => Assert.Equal("v1", split.Pick(i % 2 == 0 ? null : $"k{i}").Name));
    }

    [Theory]
    [InlineData(new double[] { 60, 30 }, "sum to 90, not 100")]
    [InlineData(new double[] { 120, -20 }, "weight -20")]
    [InlineData(new double[] { }, "at least one variant")]
    public void BadWeights_AreRefusedSayingWhy(double[] weights, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => Split(weights)).Message);

    [Fact]
    public void DuplicateNames_AreRefused() =>
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => VariantSplit.Create("e",
            [new Variant("a", "m", "1", 50), new Variant("a", "m", "2", 50)])).Message);

    [Theory]
    [InlineData(300, "is 300 bytes")]
    [InlineData(257, "is 257 bytes")]
    public void HugeKeys_AreRefused_SayingTheLimit(int length, string message)
    {
        string error = Assert.Throws<ArgumentException>(() => Split(100).Pick(new string('x', length))).Message;

        Assert.Contains(message, error);
        Assert.Contains("printable text of at most 256 UTF-8 bytes", error);
    }

    [Theory]
    [InlineData("\0binary", "U+0000) at position 0")]
    [InlineData("user\u00ff\u0007", "U+0007) at position 5")]
    [InlineData("tab\tkey", "U+0009) at position 3")]
    public void BinaryKeys_AreRefused_NamingTheCharacter(string key, string message)
    {
        string error = Assert.Throws<ArgumentException>(() => Split(100).Pick(key)).Message;

        Assert.Contains(message, error);
        Assert.Contains("printable text", error);
    }

    [Fact]
    public void BrokenUtf16Keys_AreRefused() => // built here: an attribute cannot carry a lone surrogate
        Assert.Contains("U+D800) at position 6", Assert.Throws<ArgumentException>(() => Split(100).Pick("broken" + (char)0xD800)).Message);

    [Fact]
    public void PrintableKeys_UpToTheLimit_AreTaken()
    {
        Assert.Equal("v0", Split(100).Pick(new string('x', 256)).Name);
        Assert.Equal("v0", Split(100).Pick("user-\u00e9l\u00e8ve \ud83d\ude00 42").Name); // accents, a space and an emoji pair are text
    }
}
