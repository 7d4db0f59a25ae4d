using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Quiver.Cli.Admin;
using Quiver.Cli.Tests.Models;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server;

namespace Quiver.Cli.Tests.Rollouts;

/// <summary>
/// <c>quiver endpoint</c>, <c>experiment</c> and <c>rollout</c> against the real server: registry (SQLite), routing,
/// experiment statistics, rollout controller and ONNX Runtime. Rollouts here use a 10-minute step, so the controller
/// never judges one during a test and nothing depends on timing.
/// </summary>
public sealed class RolloutsEndToEndTests : IAsyncLifetime, IDisposable
{
    private readonly TempFiles _files = new();
    private QuiverServer _server = null!;
    private HttpClient _http = null!;

    private string Url => _server.HttpAddress.ToString();

    public async Task InitializeAsync()
    {
        string repository = Directory.CreateDirectory(Path.Combine(_files.Directory, "repository")).FullName;
        _server = await QuiverServer.StartAsync(
            new QuiverServerOptions
            {
                ModelRepository = repository,
                DataDirectory = Path.Combine(_files.Directory, "data"),
                HttpPort = 0,
                GrpcPort = 0,
                MetricsPort = 0,
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        _http = new HttpClient { BaseAddress = _server.HttpAddress };

        // Two versions of "adder": version 1 adds one, version 2 adds two.
        foreach (double addend in new[] { 1.0, 2.0 })
        {
            string file = _files.Write($"plus{addend}.onnx", SampleModels.AddConstant(TensorElementType.Float, addend, "batch", 1).ToBytes());
            CliRun push = await ModelsCli.RunAsync("models", "push", "adder", file, "--server", Url);
            Assert.True(push.ExitCode == 0, push.ToString());
        }
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task EndpointSet_Infer_Feedback_ExperimentStatus_ShowsTheVariantsAndTheComparison()
    {
        CliRun set = await RunAsync("endpoint", "set", "adder-ab", "--variant", "one=adder:1:50", "--variant", "two=adder:2:50",
            "--experiment", "binary", "--minimum-samples", "10", "--alpha", "0.05");
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.StartsWith("adder-ab: 2 variants, runs an experiment", set.Output);
        Assert.Equal(["one", "adder", "1", "50%", "0"], Row(set.Output, "one"));

        // Twenty users; variant two converts every time, variant one never.
        for (int user = 0; user < 20; user++)
        {
            (string id, string variant) = await InferAsync("adder-ab", $"user-{user}");
            await FeedbackAsync(id, variant == "two");
        }

        CliRun status = await RunAsync("experiment", "status", "adder-ab");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("binary metric, 10 outcomes planned per variant, alpha 0.05", status.Output);
        Assert.Contains("reason: ", status.Output);
        Assert.Contains("variants (the first is the control)", status.Output);
        string[] one = Row(status.Output, "one");
        string[] two = Row(status.Output, "two");
        Assert.Equal(["one", "adder", "1", "50%"], one[..4]);
        Assert.Equal(["two", "adder", "2", "50%"], two[..4]);
        Assert.Equal(("0", "1"), (one[6], two[6]));
        Assert.Equal(20, long.Parse(one[5]) + long.Parse(two[5]));
        Assert.Equal(["two", "one", "+1"], Row(status.Output, "two", after: "comparisons with the control")[..3]);
        Assert.Equal("two_proportion_z", Row(status.Output, "two", after: "comparisons with the control")[4]);

        JsonNode readout = JsonNode.Parse((await RunAsync("experiment", "status", "adder-ab", "--json")).Output)!;
        JsonArray variants = readout["variants"]!.AsArray();
        Assert.Equal(20, variants.Sum(v => (long)v!["assigned"]!));
        Assert.Equal(20, variants.Sum(v => (long)v!["outcomes"]!));

        CliRun show = await RunAsync("endpoint", "show", "adder-ab");
        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Equal(20, long.Parse(Row(show.Output, "one")[4]) + long.Parse(Row(show.Output, "two")[4]));

        CliRun list = await RunAsync("endpoint", "list");
        Assert.Contains("one → adder:1 50%, two → adder:2 50%", list.Output);

        CliRun conclude = await RunAsync("experiment", "conclude", "adder-ab", "--winner", "two");
        Assert.True(conclude.ExitCode == 0, conclude.ToString());
        Assert.Equal("adder-ab: concluded, all traffic to two (adder version 2); adder: production → 2\n", conclude.Output);

        CliRun remove = await RunAsync("endpoint", "remove", "adder-ab");
        Assert.Equal((0, "endpoint 'adder-ab' removed.\n"), (remove.ExitCode, remove.Output));
        CliRun gone = await RunAsync("endpoint", "show", "adder-ab");
        Assert.Equal((1, "error: endpoint 'adder-ab' does not exist.\n"), (gone.ExitCode, gone.Error));
    }

    [Fact]
    public async Task EndpointSet_WithAShadow_ShowsTheShadow()
    {
        CliRun set = await RunAsync("endpoint", "set", "adder-live", "--variant", "main=adder:1:100", "--shadow", "adder:2:100");

        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Contains("shadow: 100% of requests copied to adder version 2", set.Output);
        JsonNode shown = JsonNode.Parse((await RunAsync("endpoint", "show", "adder-live", "--json")).Output)!;
        Assert.Equal(100, (double)shown["shadow"]!["percent"]!);
    }

    [Fact]
    public async Task RolloutStart_Status_Pause_Abort_DriveTheServersRollout()
    {
        Assert.Equal(0, (await RunAsync("models", "promote", "adder", "1")).ExitCode);

        CliRun start = await RunAsync("rollout", "start", "adder", "--to", "2", "--steps", "10,50,100", "--interval", "10m",
            "--max-error-rate", "2%", "--max-p99-latency-ratio", "3", "--minimum-requests", "5");
        Assert.True(start.ExitCode == 0, start.ToString());
        Assert.StartsWith("adder: running, version 1 → 2, candidate at 10% (step 1 of 3: 10, 50, 100)\n", start.Output);
        Assert.Contains("600 s per step, judged once the candidate has 5 requests in it; rolls back above an error rate of 2% or a p99 latency 3× the baseline's", start.Output);

        JsonNode stored = JsonNode.Parse((await RunAsync("rollout", "status", "adder", "--json")).Output)!["rollout"]!;
        Assert.Equal((600.0, 0.02, 3.0, 5), ((double)stored["interval_seconds"]!, (double)stored["max_error_rate"]!,
            (double)stored["max_p99_latency_ratio"]!, (int)stored["minimum_requests"]!));

        for (int i = 0; i < 5; i++)
        {
            await InferAsync("adder", routingKey: null);
        }

        CliRun status = await RunAsync("rollout", "status", "adder");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("this step on this server", status.Output);
        string[] baseline = Row(status.Output, "baseline");
        string[] candidate = Row(status.Output, "candidate");
        Assert.Equal(5, long.Parse(baseline[2]) + long.Parse(candidate[2]));
        Assert.Contains("10% of requests to version 2, the rest to version 1", HistoryRow(status.Output, "start")[2]);

        CliRun list = await RunAsync("rollout", "list");
        Assert.Equal(["adder", "running", "1", "2", "10%", "1 of 3"], Row(list.Output, "adder")[..6]);

        Assert.Equal("adder: paused, version 1 → 2, candidate at 10% (step 1 of 3: 10, 50, 100)\n", (await RunAsync("rollout", "pause", "adder")).Output);

        CliRun abort = await RunAsync("rollout", "abort", "adder");
        Assert.True(abort.ExitCode == 0, abort.ToString());
        Assert.Equal("adder: aborted, version 1 serves all traffic (candidate 2 reached 10%)\n", abort.Output);
        Assert.Equal(2f, await InferValueAsync());

        CliRun history = await RunAsync("rollout", "status", "adder");
        Assert.DoesNotContain("this step on this server", history.Output);
        Assert.Equal($"by {CliActor.Current}", HistoryRow(history.Output, "abort")[2]);
        Assert.Equal($"by {CliActor.Current}", HistoryRow(history.Output, "pause")[2]);

        CliRun again = await RunAsync("rollout", "abort", "adder");
        Assert.Equal((1, "", "error: the rollout of model 'adder' is aborted; start a new one.\n"), (again.ExitCode, again.Output, again.Error));
    }

    [Fact]
    public async Task RolloutPause_Resume_Promote_ByHand()
    {
        Assert.Equal(0, (await RunAsync("models", "promote", "adder", "1")).ExitCode);
        CliRun start = await RunAsync("rollout", "start", "adder", "--to", "2", "--steps", "10,50,100", "--interval", "10m");
        Assert.True(start.ExitCode == 0, start.ToString());

        Assert.Equal("adder: paused, version 1 → 2, candidate at 10% (step 1 of 3: 10, 50, 100)\n", (await RunAsync("rollout", "pause", "adder")).Output);
        CliRun resume = await RunAsync("rollout", "resume", "adder");
        Assert.True(resume.ExitCode == 0, resume.ToString());
        Assert.Equal("adder: running, version 1 → 2, candidate at 10% (step 1 of 3: 10, 50, 100)\n", resume.Output);

        CliRun promote = await RunAsync("rollout", "promote", "adder");
        Assert.True(promote.ExitCode == 0, promote.ToString());
        Assert.Equal("adder: promoted, version 2 serves all traffic (baseline was 1)\n", promote.Output);
        Assert.Equal(3f, await InferValueAsync()); // version 2 adds 2 to 1

        CliRun history = await RunAsync("rollout", "status", "adder");
        Assert.Equal($"by {CliActor.Current}", HistoryRow(history.Output, "resume")[2]);
        Assert.Equal($"by {CliActor.Current}", HistoryRow(history.Output, "promote")[2]);
    }

    [Theory]
    [InlineData("error: model 'nothing' has no serving version to roll out from", "rollout", "start", "nothing", "--to", "2")]
    [InlineData("error: model 'nothing' has no rollout.", "rollout", "status", "nothing")]
    [InlineData("error: model 'adder' has no rollout.", "rollout", "pause", "adder")]
    [InlineData("error: endpoint 'nothing' does not exist or runs no experiment.", "experiment", "status", "nothing")]
    [InlineData("error: endpoint 'nothing' does not exist or runs no experiment.", "experiment", "conclude", "nothing")]
    [InlineData("error: endpoint 'nothing' does not exist.", "endpoint", "show", "nothing")]
    [InlineData("error: endpoint 'nothing' does not exist.", "endpoint", "remove", "nothing")]
    [InlineData("error: variant 'a' cannot serve: ", "endpoint", "set", "e", "--variant", "a=nothing:1:100")]
    [InlineData("error: steps must rise from above 0 to exactly 100 percent", "rollout", "start", "adder", "--to", "2", "--steps", "50,25,100")]
    public async Task ServerRefusals_Exit1WithTheServersMessage(string expected, params string[] args)
    {
        CliRun run = await RunAsync(args);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal("", run.Output);
        Assert.StartsWith(expected, run.Error);
        Assert.Single(run.Error.TrimEnd('\n').Split('\n'));
    }

    public void Dispose() => _files.Dispose();

    private Task<CliRun> RunAsync(params string[] args) => ModelsCli.RunAsync([.. args, "--server", Url]);

    // The cells of the first table row starting with `first`, after the line containing `after` if given.
    private static string[] Row(string output, string first, string? after = null) => Rows(output, after).First(cells => cells[0] == first);

    // The rollout history's row for an action: time, action, reason.
    private static string[] HistoryRow(string output, string action) => Rows(output, "history").Single(cells => cells[1] == action);

    private static IEnumerable<string[]> Rows(string output, string? after) =>
        (after is null ? output : output[output.IndexOf(after, StringComparison.Ordinal)..]).Split('\n')
            .Where(line => line.StartsWith('│'))
            .Select(line => line.Split('│', StringSplitOptions.TrimEntries)[1..^1]);

    private async Task<(string Id, string Variant)> InferAsync(string model, string? routingKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{model}/infer")
        {
            Content = new StringContent("""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[0]}]}""", Encoding.UTF8, "application/json"),
        };
        if (routingKey is not null)
        {
            request.Headers.Add("X-Quiver-Routing-Key", routingKey);
        }

        using HttpResponseMessage response = await _http.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        JsonNode answer = JsonNode.Parse(body)!;
        return ((string)answer["id"]!, (string?)answer["parameters"]?["variant"] ?? "");
    }

    private async Task<float> InferValueAsync()
    {
        using var content = new StringContent("""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[1]}]}""", Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _http.PostAsync("/v2/models/adder/infer", content);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return (float)JsonNode.Parse(body)!["outputs"]![0]!["data"]![0]!;
    }

    private async Task FeedbackAsync(string id, bool outcome)
    {
        using var content = new StringContent(new JsonObject { ["id"] = id, ["outcome"] = outcome }.ToJsonString(), Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _http.PostAsync("/v2/feedback", content);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
