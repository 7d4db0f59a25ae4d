using System.Text.Json.Nodes;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Admin;

/// <summary>
/// Canary rollouts through a real server: a candidate that fails on a fifth of the inputs is rolled back on its own,
/// a healthy one is promoted, and no request fails because of the controller.
/// </summary>
public sealed class RolloutTests : IAsyncLifetime
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-rollouts-").FullName;
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(_repository, o => o with
    {
        RepositoryPollInterval = TimeSpan.Zero,
        RolloutCheckInterval = TimeSpan.FromMilliseconds(100),
    });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    /// <summary>Looks its int64 input up in a table: an index past the table's end makes ONNX Runtime fail the request.</summary>
    private static byte[] Lookup(params float[] table) => new ModelBuilder("lookup")
        .Input("input", TensorElementType.Int64, Dim.Named("batch"), Dim.Of(1))
        .Initializer("table", table, table.Length)
        .Node("Gather", ["table", "input"], ["output"])
        .Output("output", TensorElementType.Float, Dim.Named("batch"), Dim.Of(1))
        .ToBytes();

    private async Task StartAsync(byte[] candidate)
    {
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "lookup", Lookup(1, 2, 3, 4, 5))).Status);
        Assert.Equal(200, (await _server.PostAsync("/v2/admin/models/lookup/promote", """{"version": 1}""")).Status);
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "lookup", candidate)).Status);
        // Latency is not what these tests judge: on a noisy shared box its ratio is set out of reach.
        var (status, body) = await _server.PostAsync("/v2/admin/rollouts",
            """{"model": "lookup", "to": 2, "steps": [50, 100], "interval_seconds": 0.3, "max_error_rate": 0.05, "minimum_requests": 30, "max_p99_latency_ratio": 1000}""");
        Assert.True(status == 201, body?.ToJsonString());
        Assert.Equal(50, (int)body!["candidate_weight"]!);
        using var metrics = new HttpClient { BaseAddress = _server.Server.MetricsAddress };
        Monitoring.PrometheusText scraped = Monitoring.PrometheusText.Parse(await metrics.GetStringAsync("/metrics"));
        Assert.Equal(50, scraped.Value("quiver_rollout_candidate_percent", ("model", "lookup")));
    }

    // Sends requests (index 0..4) until the rollout leaves "running"; returns every answer with the variant that gave it.
    private async Task<List<(int Status, string? Variant)>> DriveAsync()
    {
        var answers = new List<(int, string?)>();
        var random = new Random(9);
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var (_, rollout) = await _server.GetAsync("/v2/admin/rollouts/lookup");
            if ((string?)rollout!["rollout"]!["state"] != "running")
            {
                return answers;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), $"rollout still running after 60 s: {rollout.ToJsonString()}");
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
        Assert.Contains("error rate", reason);
        Assert.All(answers.Where(a => a.Variant == "baseline"), a => Assert.Equal(200, a.Status)); // only the candidate failed
        Assert.Contains(answers, a => a.Status != 200); // failed answers carry no variant, but only the candidate can fail
        JsonNode decision = (await ControllerDecisionsAsync(1)).Single();
        Assert.Equal("rollouts.rollback", (string?)decision["action"]);
        Assert.Equal("rollouts/lookup", (string?)decision["resource"]);
        JsonNode numbers = JsonNode.Parse((string)decision["details"]!)!;
        Assert.True((double)numbers["candidate_error_rate"]! > 0.05);
        Assert.Contains("error rate", (string?)numbers["reason"]);

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
}
