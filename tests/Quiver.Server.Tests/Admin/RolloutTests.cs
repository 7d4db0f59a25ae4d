using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Admin;

/// <summary>
/// Canary rollouts through a real server: a candidate that fails on a fifth of the inputs is rolled back on its own,
/// a healthy one is promoted, a much slower one is rolled back on its p99 latency, manual pause, resume and promote
/// work, a restarted server picks the rollout up where it was, and no request fails because of the controller.
/// </summary>
public sealed class RolloutTests : IAsyncLifetime
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-rollouts-").FullName;
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await StartServerAsync(dataDirectory: null);

    private Task<TestServer> StartServerAsync(string? dataDirectory) => TestServer.StartAsync(_repository, o => o with
    {
        RepositoryPollInterval = TimeSpan.Zero,
        RolloutCheckInterval = TimeSpan.FromMilliseconds(100),
        DataDirectory = dataDirectory ?? o.DataDirectory,
    });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    /// <summary>Looks its int64 input up in a table: an index past the table's end makes ONNX Runtime fail the request.</summary>
    internal static byte[] Lookup(params float[] table) => new ModelBuilder("lookup")
        .Input("input", TensorElementType.Int64, Dim.Named("batch"), Dim.Of(1))
        .Initializer("table", table, table.Length)
        .Node("Gather", ["table", "input"], ["output"])
        .Output("output", TensorElementType.Float, Dim.Named("batch"), Dim.Of(1))
        .ToBytes();

    /// <summary>
    /// The lookup made slow on purpose by real work: the looked-up value plus 0 × the sum of <paramref name="layers"/>
    /// products with a 1024×1024 matrix, computed from the input so ONNX Runtime cannot fold them away (about 400 M
    /// multiply-adds a request, hundreds of milliseconds, against microseconds for the plain lookup: far beyond the
    /// tens of milliseconds a loaded shared box adds to either).
    /// </summary>
    private static byte[] SlowLookup(float[] table, int layers = 400)
    {
        const int Width = 1024;
        ModelBuilder builder = new ModelBuilder("slow_lookup")
            .Input("input", TensorElementType.Int64, Dim.Named("batch"), Dim.Of(1))
            .Initializer("table", table, table.Length)
            .Initializer("spread", Enumerable.Repeat(1f, Width).ToArray(), 1, Width)
            .Initializer("mix", Enumerable.Repeat(1f / Width, Width * Width).ToArray(), Width, Width)
            .Initializer("zero", [0f], 1)
            .Node("Gather", ["table", "input"], ["looked_up"])
            .Node("MatMul", ["looked_up", "spread"], ["h0"]);
        for (int i = 0; i < layers; i++)
        {
            builder.Node("MatMul", [$"h{i}", "mix"], [$"h{i + 1}"]);
        }

        return builder
            .Node("ReduceSum", [$"h{layers}"], ["total"])
            .Node("Mul", ["total", "zero"], ["nothing"])
            .Node("Add", ["looked_up", "nothing"], ["output"])
            .Output("output", TensorElementType.Float, Dim.Named("batch"), Dim.Of(1))
            .ToBytes();
    }

    private async Task StartAsync(byte[] candidate, string steps = "[50, 100]", double intervalSeconds = 0.3, double maxP99LatencyRatio = 1000)
    {
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "lookup", Lookup(1, 2, 3, 4, 5))).Status);
        Assert.Equal(200, (await _server.PostAsync("/v2/admin/models/lookup/promote", """{"version": 1}""")).Status);
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "lookup", candidate)).Status);
        // Unless a test judges latency, its ratio is set out of reach: a noisy shared box has p99 spikes.
        var (status, body) = await _server.PostAsync("/v2/admin/rollouts", string.Create(CultureInfo.InvariantCulture,
            $$"""{"model": "lookup", "to": 2, "steps": {{steps}}, "interval_seconds": {{intervalSeconds}}, "max_error_rate": 0.05, "minimum_requests": 30, "max_p99_latency_ratio": {{maxP99LatencyRatio}}}"""));
        Assert.True(status == 201, body?.ToJsonString());
        Assert.Equal(int.Parse(steps.TrimStart('[').Split(',')[0], CultureInfo.InvariantCulture), (int)body!["candidate_weight"]!);
        using var metrics = new HttpClient { BaseAddress = _server.Server.MetricsAddress };
        Monitoring.PrometheusText scraped = Monitoring.PrometheusText.Parse(await metrics.GetStringAsync("/metrics"));
        Assert.Equal((double)body["candidate_weight"]!, scraped.Value("quiver_rollout_candidate_percent", ("model", "lookup")));
    }

    // Sends requests (index 0..4) until the rollout leaves "running"; returns every answer with the variant that gave it.
    private Task<List<(int Status, string? Variant)>> DriveAsync() => DriveAsync(rollout => (string?)rollout["state"] != "running");

    // Sends requests until the rollout's state satisfies done.
    private async Task<List<(int Status, string? Variant)>> DriveAsync(Func<JsonNode, bool> done)
    {
        var answers = new List<(int, string?)>();
        var random = new Random(9);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var (_, rollout) = await _server.GetAsync("/v2/admin/rollouts/lookup");
            if (done(rollout!["rollout"]!))
            {
                return answers;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(120), $"rollout not there after 120 s: {rollout.ToJsonString()}");
            for (int i = 0; i < 20; i++)
            {
                var (status, body) = await _server.PostAsync("/v2/models/lookup/infer",
                    $$"""{"inputs":[{"name":"input","shape":[1,1],"datatype":"INT64","data":[{{random.Next(5)}}]}]}""");
                answers.Add((status, (string?)body?["parameters"]?["variant"]));
            }
        }
    }

    // The audit entries of the controller's own decisions, oldest first, once there are <paramref name="count"/>:
    // each is recorded just after its state change commits, so it may trail the state a reader sees.
    private async Task<List<JsonNode>> ControllerDecisionsAsync(int count)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var (_, audit) = await _server.GetAsync("/v2/admin/audit?limit=1000");
            List<JsonNode> decisions = audit!["entries"]!.AsArray().Select(e => e!).Where(e => (string?)e["actor"] == "rollout-controller").ToList();
            if (decisions.Count >= count || deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                return decisions;
            }

            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task FailingCandidate_IsRolledBackAutomatically_WithTheNumbers()
    {
        await StartAsync(Lookup(10, 20, 30, 40)); // index 4 is past the end: a fifth of requests fail

        List<(int Status, string? Variant)> answers = await DriveAsync();

        var (_, state) = await _server.GetAsync("/v2/admin/rollouts/lookup");
        JsonNode rollout = state!["rollout"]!;
        Assert.Equal("rolled_back", (string?)rollout["state"]);
        string reason = (string)rollout["history"]!.AsArray()[^1]!["reason"]!;
        Numbers numbers = Numbers.Of(reason);
        Assert.StartsWith("error rate ", reason);
        Assert.InRange(numbers.CandidateErrorRate, 5.01, 60); // a fifth of the inputs fail: above the 5% limit
        Assert.True(numbers.CandidateRequests >= 30, reason);
        Assert.Equal(0, numbers.BaselineErrorRate);
        Assert.All(answers.Where(a => a.Variant == "baseline"), a => Assert.Equal(200, a.Status)); // only the candidate failed
        Assert.Contains(answers, a => a.Status != 200); // failed answers carry no variant, but only the candidate can fail
        JsonNode decision = (await ControllerDecisionsAsync(1)).Single();
        Assert.Equal("rollouts.rollback", (string?)decision["action"]);
        Assert.Equal("rollouts/lookup", (string?)decision["resource"]);
        JsonNode audited = JsonNode.Parse((string)decision["details"]!)!;
        Assert.True((double)audited["candidate_error_rate"]! > 0.05);
        Assert.Equal(reason, (string?)audited["reason"]);

        // Traffic is back on production (version 1) without a split.
        var (status, body) = await _server.PostAsync("/v2/models/lookup/infer", """{"inputs":[{"name":"input","shape":[1,1],"datatype":"INT64","data":[4]}]}""");
        Assert.Equal(200, status);
        Assert.Equal("1", (string?)body!["model_version"]);
        Assert.Null(body["parameters"]?["variant"]);
    }

    [Fact]
    public async Task HealthyCandidate_IsPromoted_AndNoRequestFails()
    {
        await StartAsync(Lookup(10, 20, 30, 40, 50));

        List<(int Status, string? Variant)> answers = await DriveAsync();

        var (_, state) = await _server.GetAsync("/v2/admin/rollouts/lookup");
        JsonNode history = state!["rollout"]!["history"]!;
        Assert.Equal("promoted", (string?)state["rollout"]!["state"]);
        Assert.Equal(["start", "advance", "promote"], history.AsArray().Select(e => (string?)e!["action"]));
        Assert.Equal(["rollouts.advance", "rollouts.promote"], (await ControllerDecisionsAsync(2)).Select(e => (string?)e["action"]));
        Assert.All(answers, a => Assert.Equal(200, a.Status));
        Assert.Contains(answers, a => a.Variant == "candidate");
        var (_, model) = await _server.GetAsync("/v2/admin/models/lookup");
        Assert.Equal(2, (long)model!["aliases"]!["production"]!);
        var (_, body) = await _server.PostAsync("/v2/models/lookup/infer", """{"inputs":[{"name":"input","shape":[1,1],"datatype":"INT64","data":[4]}]}""");
        Assert.Equal("2", (string?)body!["model_version"]);
    }

    [Fact]
    public async Task ManualActions_AndBadRequests()
    {
        await StartAsync(Lookup(10, 20, 30, 40, 50));

        var (second, error) = await _server.PostAsync("/v2/admin/rollouts", """{"model": "lookup", "to": 2}""");
        Assert.Equal(409, second);
        Assert.Contains("already has a running rollout", (string?)error!["error"]);
        Assert.Equal(200, (await _server.PostAsync("/v2/admin/rollouts/lookup/pause", "")).Status);
        Assert.Equal(409, (await _server.PostAsync("/v2/admin/rollouts/lookup/pause", "")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/admin/rollouts/lookup/explode", "")).Status);
        var (aborted, body) = await _server.PostAsync("/v2/admin/rollouts/lookup/abort", "");
        Assert.Equal(200, aborted);
        Assert.Equal("aborted", (string?)body!["rollout"]!["state"]);
        Assert.Equal(409, (await _server.PostAsync("/v2/admin/rollouts/lookup/resume", "")).Status);
        Assert.Equal(404, (await _server.GetAsync("/v2/admin/rollouts/nothing")).Status);

        Assert.Equal(404, (await _server.PostAsync("/v2/admin/rollouts", """{"model": "lookup", "to": 9}""")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/admin/rollouts", """{"model": "lookup", "to": 1}""")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/admin/rollouts", """{"model": "lookup", "to": 2, "steps": [50, 40]}""")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/admin/rollouts", """{"model": "lookup", "to": 2, "steps": [50]}""")).Status);
        Assert.Equal(400, (await _server.PostAsync("/v2/admin/rollouts", """{"to": 2}""")).Status);
        Assert.Equal(404, (await _server.PostAsync("/v2/admin/rollouts", """{"model": "ghost", "to": 2}""")).Status);
    }

    [Fact]
    public async Task SlowCandidate_IsRolledBackOnTheP99LatencyRatio_WithTheNumbers()
    {
        await StartAsync(SlowLookup([10, 20, 30, 40, 50]), maxP99LatencyRatio: 1.5);

        List<(int Status, string? Variant)> answers = await DriveAsync();

        var (_, state) = await _server.GetAsync("/v2/admin/rollouts/lookup");
        JsonNode rollout = state!["rollout"]!;
        Assert.True((string?)rollout["state"] == "rolled_back", rollout.ToJsonString());
        string reason = (string)rollout["history"]!.AsArray()[^1]!["reason"]!;
        Match ratio = Regex.Match(reason, @"^p99 latency (?<ratio>[\d.]+)× the baseline's, above 1\.50× \(");
        Assert.True(ratio.Success, reason);
        Numbers numbers = Numbers.Of(reason);
        double stated = double.Parse(ratio.Groups["ratio"].Value, CultureInfo.InvariantCulture);
        Assert.True(stated > 1.5, reason);
        Assert.Equal(numbers.CandidateP99 / numbers.BaselineP99, stated, 0.01 + (stated * 0.01)); // the ratio of the p99s stated
        Assert.True(numbers.CandidateRequests >= 30 && numbers.BaselineRequests >= 30, reason);
        Assert.Equal(0, numbers.CandidateErrorRate); // slow, not failing: the latency is what rolled it back
        Assert.All(answers, a => Assert.Equal(200, a.Status));
    }

    [Fact]
    public async Task PauseHoldsTheSplit_ResumeRunsAgain_AndPromoteByHandMakesTheCandidateProduction()
    {
        // An hour a step: the controller never judges during this test, so every transition is the manual one.
        await StartAsync(Lookup(10, 20, 30, 40, 50), intervalSeconds: 3600);

        var (paused, body) = await _server.PostAsync("/v2/admin/rollouts/lookup/pause", "");
        Assert.Equal((200, "paused"), (paused, (string?)body!["rollout"]!["state"]));
        int looks = 0;
        List<(int Status, string? Variant)> during = await DriveAsync(_ => looks++ == 2); // two rounds of 20 requests
        Assert.All(during, a => Assert.Equal(200, a.Status));
        Assert.Contains(during, a => a.Variant == "candidate"); // paused holds the split; it does not drop it
        Assert.Contains(during, a => a.Variant == "baseline");

        var (resumed, afterResume) = await _server.PostAsync("/v2/admin/rollouts/lookup/resume", "");
        Assert.Equal((200, "running", 50), (resumed, (string?)afterResume!["rollout"]!["state"], (int)afterResume["candidate_weight"]!));

        var (promoted, afterPromote) = await _server.PostAsync("/v2/admin/rollouts/lookup/promote", "");
        Assert.Equal((200, "promoted"), (promoted, (string?)afterPromote!["rollout"]!["state"]));
        Assert.Equal(["start", "pause", "resume", "promote"], afterPromote["rollout"]!["history"]!.AsArray().Select(e => (string?)e!["action"]));
        Assert.All(afterPromote["rollout"]!["history"]!.AsArray().Skip(1), e => Assert.StartsWith("by ", (string?)e!["reason"]));
        var (_, model) = await _server.GetAsync("/v2/admin/models/lookup");
        Assert.Equal(2, (long)model!["aliases"]!["production"]!);
        var (status, answer) = await _server.PostAsync("/v2/models/lookup/infer", """{"inputs":[{"name":"input","shape":[1,1],"datatype":"INT64","data":[4]}]}""");
        Assert.Equal((200, "2", 50f), (status, (string?)answer!["model_version"], (float)answer["outputs"]![0]!["data"]![0]!));
        Assert.Null(answer["parameters"]?["variant"]);
        Assert.Equal(409, (await _server.PostAsync("/v2/admin/rollouts/lookup/resume", "")).Status); // finished: nothing to resume
    }

    [Fact]
    public async Task RestartedServer_ResumesTheRolloutWhereItWas()
    {
        string data = TestServer.NewDataDirectory();
        try
        {
            await _server.DisposeAsync();
            _server = await StartServerAsync(data);
            await StartAsync(Lookup(10, 20, 30, 40, 50), steps: "[20, 50, 100]");
            await DriveAsync(rollout => (int)rollout["step_index"]! == 1); // advanced to 50%; no more traffic, so it waits there

            await _server.DisposeAsync();
            _server = await StartServerAsync(data);

            var (status, state) = await _server.GetAsync("/v2/admin/rollouts/lookup");
            Assert.Equal(200, status);
            JsonNode rollout = state!["rollout"]!;
            Assert.Equal(("running", 1, 50), ((string?)rollout["state"], (int)rollout["step_index"]!, (int)state["candidate_weight"]!));
            Assert.Equal(["start", "advance"], rollout["history"]!.AsArray().Select(e => (string?)e!["action"]));

            List<(int Status, string? Variant)> answers = await DriveAsync();

            var (_, finished) = await _server.GetAsync("/v2/admin/rollouts/lookup");
            Assert.Equal("promoted", (string?)finished!["rollout"]!["state"]);
            Assert.Equal(["start", "advance", "advance", "promote"], finished["rollout"]!["history"]!.AsArray().Select(e => (string?)e!["action"]));
            Assert.All(answers, a => Assert.Equal(200, a.Status));
            Assert.Contains(answers, a => a.Variant == "baseline"); // the split came back at 50%, not at 100%
        }
        finally
        {
            await _server.DisposeAsync();
            _server = await StartServerAsync(dataDirectory: null); // DisposeAsync stops this one
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>The numbers a rollout's reason carries: "candidate N requests, error rate E%, p99 P ms; baseline …".</summary>
    private sealed record Numbers(long CandidateRequests, double CandidateErrorRate, double CandidateP99, long BaselineRequests, double BaselineErrorRate, double BaselineP99)
    {
        public static Numbers Of(string reason)
        {
            Match m = Regex.Match(reason,
                @"\(candidate (\d+) requests, error rate ([\d.]+) ?%, p99 ([\d.]+) ms; baseline (\d+) requests, error rate ([\d.]+) ?%, p99 ([\d.]+) ms\)");
            Assert.True(m.Success, $"no numbers in the reason: {reason}");
            double D(int group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
            return new Numbers((long)D(1), D(2), D(3), (long)D(4), D(5), D(6));
        }
    }
}
