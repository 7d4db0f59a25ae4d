namespace Quiver.Cli.Tests.Models;

/// <summary><c>quiver models list</c>, <c>show</c> and <c>history</c> against the admin API stand-in.</summary>
public sealed class ModelsQueryTests
{
    [Fact]
    public async Task List_PrintsOneRowPerModelWithAliasesAndVersionStates()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "list");

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.SingleRequest;
        Assert.Equal(("GET", "/v2/admin/models"), (request.Method, request.Path));
        string[] header = ["model", "latest", "aliases", "versions", "created", "description"];
        Assert.All(header, column => Assert.Contains(column, run.Output));
        string iris = Row(run.Output, "iris");
        Assert.Contains("production → 2, staging → 3", iris);
        Assert.Contains("3 (2 ready, 1 retired)", iris);
        Assert.Contains("Iris flower classifier", iris);
        Assert.Contains("2026-11-25 10:00:00Z", iris);
        string echo = Row(run.Output, "text_echo");
        Assert.Contains("1 (1 ready)", echo);
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task List_Json_PrintsTheServersBodyVerbatim()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        using var http = new HttpClient();
        string body = await http.GetStringAsync(server.Url + "/v2/admin/models");

        CliRun run = await ModelsCli.ModelsAsync(server, "list", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(body + "\n", run.Output);
    }

    [Fact]
    public async Task List_NoModels_SaysHowToAddOne()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        server.RespondOnce(200, """{"models":[]}""");

        CliRun run = await ModelsCli.ModelsAsync(server, "list");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("no models registered", run.Output);
        Assert.Contains("quiver models push NAME FILE", run.Output);
    }

    [Fact]
    public async Task Show_Model_PrintsVersionsReplicasAndRecentAliasChanges()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "show", "iris");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(("GET", "/v2/admin/models/iris"), (server.SingleRequest.Method, server.SingleRequest.Path));
        Assert.StartsWith("iris: Iris flower classifier\n", run.Output);
        Assert.Contains("latest version 3, aliases production → 2, staging → 3", run.Output);
        Assert.Contains("retired (superseded by 2)", Row(run.Output, "│ 1 "));
        string v2 = Row(run.Output, "│ 2 ");
        Assert.Contains("production", v2);
        Assert.Contains("bob", v2);
        Assert.Contains("prod, v2", v2);
        string v3 = Row(run.Output, "│ 3 ");
        Assert.Contains("3.3 MiB", v3);
        Assert.Contains("333333333333 ", v3);
        Assert.DoesNotContain("3333333333333", v3);
        Assert.Contains("host-1234", run.Output);
        Assert.Contains("recent alias changes", run.Output);
        // Newest first, as the server sends them: staging's change comes before production's.
        Assert.True(run.Output.IndexOf("staging  ", StringComparison.Ordinal) < run.Output.LastIndexOf("production", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Show_Version_PrintsEveryFieldAndTheSignature()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "show", "iris", "3");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("/v2/admin/models/iris/versions/3", server.SingleRequest.Path);
        Assert.Contains(new string('3', 64), run.Output);
        Assert.Contains("3.3 MiB (3500000 bytes)", run.Output);
        Assert.Contains("s3://models/iris/3.onnx", Row(run.Output, "source uri"));
        Assert.Contains("run-42", Row(run.Output, "training run"));
        Assert.Contains("staging", Row(run.Output, "aliases"));
        string input = Row(run.Output, "input ");
        Assert.Contains("FP32", input);
        Assert.Contains("[-1,4]", input);
        Assert.Contains("[-1,3]", Row(run.Output, "probabilities"));
    }

    [Fact]
    public async Task Show_Version_Json_PrintsTheVersionObject()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "show", "iris", "2", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        var version = System.Text.Json.Nodes.JsonNode.Parse(run.Output)!;
        Assert.Equal(2, (int)version["version"]!);
        Assert.Equal("ready", (string?)version["state"]);
    }

    [Fact]
    public async Task History_PrintsEveryChangeNewestFirst()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "history", "iris");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("/v2/admin/models/iris/history", server.SingleRequest.Path);
        string[] rows = run.Output.Split('\n').Where(line => line.Contains("2026-11-25", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, rows.Length);
        Assert.Contains("staging", rows[0]);
        Assert.Contains("alice", rows[0]);
        Assert.Matches(@"production\s+│ 2\s+│ 1\s+│ bob", rows[1]);
        Assert.Matches(@"production\s+│ 1\s+│ -\s+│ bob", rows[2]);
    }

    [Fact]
    public async Task History_NoChanges_SaysSo()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "history", "text_echo");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("text_echo: no alias changes yet.\n", run.Output);
    }

    private static string Row(string table, string marker) =>
        table.Split('\n').FirstOrDefault(line => line.Contains(marker, StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"no line with '{marker}' in:\n{table}");
}
