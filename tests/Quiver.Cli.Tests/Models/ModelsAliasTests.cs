using System.Text.Json.Nodes;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Tests.Models;

/// <summary>The commands that change a model: alias set/remove, promote, rollback and retire.</summary>
public sealed class ModelsAliasTests
{
    [Fact]
    public async Task AliasSet_PutsTheVersionAsJson_AsTheOsUser()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "alias", "set", "iris", "staging", "2");

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.SingleRequest;
        Assert.Equal(("PUT", "/v2/admin/models/iris/aliases/staging"), (request.Method, request.Path));
        AssertJson("""{"version":2}""", request);
        Assert.Equal(CliActor.Current, request.Header(CliActor.Header));
        Assert.Equal("iris: staging → 2 (was 3)\n", run.Output);
    }

    [Fact]
    public async Task AliasSet_NewAlias_SaysItWasUnset()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "alias", "set", "iris", "canary", "3");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("iris: canary → 3 (was unset)\n", run.Output);
    }

    [Fact]
    public async Task AliasRemove_Deletes_AsTheOsUser()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "alias", "remove", "iris", "staging");

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.SingleRequest;
        Assert.Equal(("DELETE", "/v2/admin/models/iris/aliases/staging"), (request.Method, request.Path));
        Assert.Empty(request.Body);
        Assert.Equal(CliActor.Current, request.Header(CliActor.Header));
        Assert.Equal("iris: staging removed (was 3)\n", run.Output);
    }

    [Fact]
    public async Task Promote_PostsTheVersion_AndProductionMoves()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "promote", "iris", "3");

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.SingleRequest;
        Assert.Equal(("POST", "/v2/admin/models/iris/promote"), (request.Method, request.Path));
        AssertJson("""{"version":3}""", request);
        Assert.Equal(CliActor.Current, request.Header(CliActor.Header));
        Assert.Equal("iris: production → 3 (was 2)\n", run.Output);

        CliRun list = await ModelsCli.ModelsAsync(server, "list");
        Assert.Contains("production → 3, staging → 3", list.Output);
    }

    [Fact]
    public async Task Promote_Json_PrintsTheServersAnswer()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "promote", "iris", "3", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("""{"model":"iris","alias":"production","version":3,"previous_version":2}""" + "\n", run.Output);
    }

    [Fact]
    public async Task Promote_RetiredVersion_Exits1WithTheServersMessage()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "promote", "iris", "1");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("", run.Output);
        Assert.Equal("error: version 1 of model 'iris' is retired; an alias cannot point at it\n", run.Error);
    }

    [Fact]
    public async Task Rollback_NoAlias_MovesProductionBackAfterAPromote()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        Assert.Equal(0, (await ModelsCli.ModelsAsync(server, "promote", "iris", "3")).ExitCode);

        CliRun run = await ModelsCli.ModelsAsync(server, "rollback", "iris");

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.Requests[^1];
        Assert.Equal(("POST", "/v2/admin/models/iris/rollback"), (request.Method, request.Path));
        AssertJson("""{"alias":"production"}""", request);
        Assert.Equal(CliActor.Current, request.Header(CliActor.Header));
        Assert.Equal("iris: production rolled back to 2 (was 3)\n", run.Output);
    }

    [Fact]
    public async Task Rollback_AliasWithoutHistory_Exits1WithTheServersConflict()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "rollback", "iris", "--alias", "staging");

        Assert.Equal(1, run.ExitCode);
        AssertJson("""{"alias":"staging"}""", server.SingleRequest);
        Assert.Equal("error: alias 'staging' of model 'iris' has no earlier version to roll back to\n", run.Error);
    }

    [Fact]
    public async Task Retire_WithReason_PostsIt()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "retire", "iris", "3", "--reason", "recall dropped 4 points");

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.SingleRequest;
        Assert.Equal(("POST", "/v2/admin/models/iris/versions/3/retire"), (request.Method, request.Path));
        AssertJson("""{"reason":"recall dropped 4 points"}""", request);
        Assert.Equal("iris version 3: retired (recall dropped 4 points)\n", run.Output);
    }

    [Fact]
    public async Task Retire_WithoutReason_PostsAnEmptyObject()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "retire", "iris", "3");

        Assert.True(run.ExitCode == 0, run.ToString());
        AssertJson("{}", server.SingleRequest);
        Assert.Equal("iris version 3: retired\n", run.Output);
    }

    private static void AssertJson(string expected, RecordedRequest request)
    {
        Assert.StartsWith("application/json", request.Header("Content-Type"));
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), request.BodyJson), $"expected {expected}, sent {request.BodyText}");
    }
}
