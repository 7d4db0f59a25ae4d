using System.Text.Json.Nodes;
using Quiver.Server.Tests.Dashboard;

namespace Quiver.Server.Tests.Admin;

/// <summary>An A/B test through a real server: routed requests, feedback, the readout's decision, and concluding it.</summary>
public sealed class ExperimentTests : IAsyncLifetime
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-experiments-").FullName;
    private readonly ManualClock _clock = new(); // a fake clock: the ledger's seven-day retention cannot be waited out
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(_repository, o => o with { RepositoryPollInterval = TimeSpan.Zero, Time = _clock });
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "ranker", AdminApiTests.Adder(1))).Status);
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "ranker", AdminApiTests.Adder(2))).Status);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    private async Task<(int Status, JsonNode? Body)> PutAsync(string path, string json)
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _server.Client.PutAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private const string Definition = """
        {"variants": [{"name": "control", "model": "ranker", "version": "1", "weight": 50},
                      {"name": "treatment", "model": "ranker", "version": "2", "weight": 50}],
         "experiment": {"metric": "binary", "minimum_samples": 200}}
        """;

    private async Task<(string Id, string Variant)> ServeAsync(string user)
    {
        var (status, body) = await _server.PostAsync("/v2/models/shop/infer",
            $$$"""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[1]}],"parameters":{"routing_key":"{{{user}}}"}}""");
        Assert.Equal(200, status);
        return ((string)body!["id"]!, (string)body["parameters"]!["variant"]!);
    }

    [Fact]
    public async Task ABTest_FeedbackDecidesTheWinner_AndConcludingPromotesIt()
    {
        Assert.Equal(200, (await PutAsync("/v2/admin/endpoints/shop", Definition)).Status);
        var (_, early) = await _server.GetAsync("/v2/admin/experiments/shop");
        Assert.Equal("continue", (string?)early!["decision"]);

        // Treatment converts 40% of the time, control 10%: a difference both tests must find.
        var random = new Random(42);
        for (int user = 0; user < 600; user++)
        {
            var (id, variant) = await ServeAsync($"user-{user}");
            bool converted = random.NextDouble() < (variant == "treatment" ? 0.4 : 0.1);
            Assert.Equal(200, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{id}}", "outcome": {{(converted ? "true" : "false")}}}""")).Status);
        }

        var (_, readout) = await _server.GetAsync("/v2/admin/experiments/shop");
        Assert.Equal("winner", (string?)readout!["decision"]);
        Assert.Equal("treatment", (string?)readout["winner"]);
        JsonNode comparison = readout["comparisons"]![0]!;
        Assert.Equal("two_proportion_z", (string?)comparison["test"]);
        Assert.True((double)comparison["p_value"]! < 0.001);
        Assert.True((double)comparison["sequential_p_value"]! <= 0.05);
        Assert.Equal(600, readout["variants"]!.AsArray().Sum(v => (long)v!["outcomes"]!));

        var (concluded, result) = await _server.PostAsync("/v2/admin/experiments/shop/conclude", "");
        Assert.Equal(200, concluded);
        Assert.True((bool)result!["promoted"]!);
        var (_, model) = await _server.GetAsync("/v2/admin/models/ranker");
        Assert.Equal(2, (long)model!["aliases"]!["production"]!);
        for (int user = 0; user < 20; user++)
        {
            Assert.Equal("treatment", (await ServeAsync($"late-{user}")).Variant);
        }
    }

    [Fact]
    public async Task BadFeedback_GetsAClear4xx_AndCountsNothing()
    {
        Assert.Equal(200, (await PutAsync("/v2/admin/endpoints/shop", Definition)).Status);
        var (id, _) = await ServeAsync("someone");

        Assert.Equal(404, (await _server.PostAsync("/v2/feedback", """{"id": "never-served", "outcome": true}""")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{id}}", "outcome": "yes"}""")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{id}}", "outcome": 0.5}""")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/feedback", """{"outcome": true}""")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{id}}"}""")).Status);
        Assert.Equal(200, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{id}}", "outcome": 1}""")).Status);
        var (duplicate, error) = await _server.PostAsync("/v2/feedback", $$"""{"id": "{{id}}", "outcome": 0}""");
        Assert.Equal(409, duplicate);
        Assert.Contains("first one counts", (string?)error!["error"]);

        var (_, readout) = await _server.GetAsync("/v2/admin/experiments/shop");
        Assert.Equal(1, readout!["variants"]!.AsArray().Sum(v => (long)v!["outcomes"]!));
        Assert.Equal(409, (await _server.PostAsync("/v2/admin/experiments/shop/conclude", "")).Status); // no winner yet
        Assert.Equal(404, (await _server.PostAsync("/v2/admin/experiments/shop/conclude", """{"winner": "nobody"}""")).Status);
    }

    [Fact]
    public async Task LateFeedback_WithinTheRetentionCounts_ExpiredFeedbackIs404SayingSo()
    {
        Assert.Equal(200, (await PutAsync("/v2/admin/endpoints/shop", Definition)).Status);
        var (late, _) = await ServeAsync("late-user");
        var (expired, _) = await ServeAsync("gone-user");

        _clock.Advance(TimeSpan.FromDays(6)); // six days on: still remembered
        Assert.Equal(200, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{late}}", "outcome": true}""")).Status);
        Assert.Equal(409, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{late}}", "outcome": false}""")).Status); // late and duplicate

        _clock.Advance(TimeSpan.FromDays(1.5)); // seven and a half days after it was served
        var (status, error) = await _server.PostAsync("/v2/feedback", $$"""{"id": "{{expired}}", "outcome": true}""");
        Assert.Equal(404, status);
        Assert.Contains($"no experiment request with id '{expired}' is known here (unknown, or older than 7 days)", (string?)error!["error"]);

        var (_, readout) = await _server.GetAsync("/v2/admin/experiments/shop");
        Assert.Equal(1, readout!["variants"]!.AsArray().Sum(v => (long)v!["outcomes"]!));
        Assert.Equal(1, readout["variants"]!.AsArray().Sum(v => (double?)v!["mean"] ?? 0)); // the one outcome counted is the first, true
    }

    // A numeric reward through the server: Welch's t-test in the readout, checked against the t and the
    // Welch–Satterthwaite degrees of freedom worked out here from the outcomes sent.
    [Fact]
    public async Task NumericExperiment_WelchReadoutMatchesTheOutcomesSent_AndNamesTheWinner()
    {
        Assert.Equal(200, (await PutAsync("/v2/admin/endpoints/shop", """
            {"variants": [{"name": "control", "model": "ranker", "version": "1", "weight": 50},
                          {"name": "treatment", "model": "ranker", "version": "2", "weight": 50}],
             "experiment": {"metric": "numeric", "minimum_samples": 40}}
            """)).Status);
        var sent = new Dictionary<string, List<double>> { ["control"] = [], ["treatment"] = [] };
        var random = new Random(5);
        for (int user = 0; user < 200; user++)
        {
            var (id, variant) = await ServeAsync($"buyer-{user}");
            double reward = Math.Round((variant == "treatment" ? 12 : 10) + (4 * (random.NextDouble() - 0.5)), 3);
            sent[variant].Add(reward);
            Assert.Equal(200, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{id}}", "outcome": {{reward.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""")).Status);
        }

        Assert.Equal(400, (await _server.PostAsync("/v2/feedback", $$"""{"id": "{{(await ServeAsync("x")).Id}}", "outcome": true}""")).Status);

        static (double Mean, double Variance, int Count) Describe(List<double> values)
        {
            double mean = values.Sum() / values.Count;
            return (mean, values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1), values.Count);
        }

        var (meanA, varA, nA) = Describe(sent["control"]);
        var (meanB, varB, nB) = Describe(sent["treatment"]);
        double t = (meanB - meanA) / Math.Sqrt((varA / nA) + (varB / nB));

        var (_, readout) = await _server.GetAsync("/v2/admin/experiments/shop");
        JsonNode comparison = readout!["comparisons"]![0]!;
        Assert.Equal("welch_t", (string?)comparison["test"]);
        Assert.Equal(meanB - meanA, (double)comparison["difference"]!, 1e-9);
        Assert.Equal(t, (double)comparison["statistic"]!, 1e-6);
        Assert.True((double)comparison["p_value"]! < 1e-6, comparison.ToJsonString());
        Assert.Equal("winner", (string?)readout["decision"]);
        Assert.Equal("treatment", (string?)readout["winner"]);
        Assert.Equal(meanA, (double)readout["variants"]![0]!["mean"]!, 1e-9);
    }

    [Theory]
    [InlineData("""{"variants": [{"name": "a", "model": "ranker", "version": "1", "weight": 100}], "experiment": {"metric": "binary", "minimum_samples": 100}}""", "at least two variants")]
    [InlineData("""{"variants": [{"name": "a", "model": "ranker", "version": "1", "weight": 50}, {"name": "b", "model": "ranker", "version": "2", "weight": 50}], "experiment": {"metric": "clicks", "minimum_samples": 100}}""", "metric 'clicks' is unknown")]
    [InlineData("""{"variants": [{"name": "a", "model": "ranker", "version": "1", "weight": 50}, {"name": "b", "model": "ranker", "version": "2", "weight": 50}], "experiment": {"metric": "binary", "minimum_samples": 100, "alpha": 1.5}}""", "alpha must be between 0 and 1")]
    public async Task BadExperiment_IsRefusedSayingWhy(string definition, string message)
    {
        var (status, body) = await PutAsync("/v2/admin/endpoints/shop", definition);

        Assert.Equal(400, status);
        Assert.Contains(message, (string?)body!["error"]);
        Assert.Equal(404, (await _server.GetAsync("/v2/admin/experiments/shop")).Status);
    }
}
