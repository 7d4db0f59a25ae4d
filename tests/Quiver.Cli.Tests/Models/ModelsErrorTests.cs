namespace Quiver.Cli.Tests.Models;

/// <summary>How every models command fails: bad arguments exit 2 and send nothing; the server's refusals exit 1 with its message.</summary>
public sealed class ModelsErrorTests
{
    private const string NoServer = "http://127.0.0.1:1";

    [Theory]
    [InlineData("list")]
    [InlineData("show", "iris")]
    [InlineData("promote", "iris", "3")]
    [InlineData("history", "iris")]
    public async Task ConnectionRefused_Exits1NamingTheAddress(params string[] args)
    {
        CliRun run = await ModelsCli.RunAsync(["models", .. args, "--server", NoServer]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("", run.Output);
        Assert.StartsWith($"error: cannot reach the Quiver server at {NoServer}/ (connection refused).", run.Error);
        Assert.Contains("--server or QUIVER_SERVER", run.Error);
        Assert.DoesNotContain("   at ", run.Error);
    }

    [Fact]
    public async Task ConnectionRefused_Push_Exits1NamingTheAddress()
    {
        using var files = new TempFiles();

        CliRun run = await ModelsCli.RunAsync("models", "push", "iris", files.Random("m.onnx", 100), "--server", NoServer);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"error: cannot reach the Quiver server at {NoServer}/ (connection refused).", run.Error);
    }

    [Theory]
    [InlineData("error: model 'nope' not found\n", "show", "nope")]
    [InlineData("error: model 'nope' not found\n", "history", "nope")]
    [InlineData("error: model 'iris' has no version 9\n", "show", "iris", "9")]
    [InlineData("error: model 'iris' has no version 9\n", "promote", "iris", "9")]
    [InlineData("error: model 'iris' has no alias 'canary'\n", "alias", "remove", "iris", "canary")]
    public async Task NotFound_Exits1WithTheServersMessage(string expected, params string[] args)
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, args);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("", run.Output);
        Assert.Equal(expected, run.Error);
    }

    [Fact]
    public async Task NotFound_Json_StillPrintsTheErrorOnStderr()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "show", "nope", "--json");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("", run.Output);
        Assert.Equal("error: model 'nope' not found\n", run.Error);
    }

    [Fact]
    public async Task Name_IsEscapedInThePath()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "show", "my model/2");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("/v2/admin/models/my%20model%2F2", server.SingleRequest.RawTarget);
    }

    [Theory]
    [InlineData(503, "the registry is unavailable: PostgreSQL is not answering")]
    [InlineData(413, "the artifact is larger than the server's limit of 64 MiB")]
    public async Task OtherRefusals_Exit1WithTheServersMessage(int status, string message)
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        server.RespondOnceWithError(status, message);

        CliRun run = await ModelsCli.ModelsAsync(server, "list");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"error: {message}\n", run.Error);
    }

    [Fact]
    public async Task ErrorWithoutTheApisBody_SaysWhatCameBack()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        server.RespondOnce(502, "<html><body>Bad Gateway</body></html>");

        CliRun run = await ModelsCli.ModelsAsync(server, "list");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("error: HTTP 502 Bad Gateway: <html><body>Bad Gateway</body></html>\n", run.Error);
    }

    [Fact]
    public async Task SuccessThatIsNotTheApisJson_Exits1SayingSo()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        server.RespondOnce(200, "<html>a web page</html>");

        CliRun run = await ModelsCli.ModelsAsync(server, "list");

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"error: the server at {server.Url}/ answered HTTP 200 with a body that is not the admin API's JSON", run.Error);
    }

    [Theory]
    [InlineData("VERSION 'abc' is not a version number", "show", "iris", "abc")]
    [InlineData("VERSION '-1' is not a version number", "promote", "iris", "-1")]
    [InlineData("VERSION '0' is not a version number", "show", "iris", "0")]
    [InlineData("VERSION '1.5' is not a version number", "retire", "iris", "1.5")]
    [InlineData("VERSION 'two' is not a version number", "alias", "set", "iris", "staging", "two")]
    [InlineData("VERSION '99999999999' is not a version number", "promote", "iris", "99999999999")]
    [InlineData("Required argument missing", "promote", "iris")]
    [InlineData("Required argument missing", "alias", "set", "iris", "staging")]
    [InlineData("Required argument missing", "push", "iris")]
    [InlineData("Required argument missing", "rollback")]
    [InlineData("NAME must not be empty", "history", "")]
    [InlineData("ALIAS must not be empty", "alias", "remove", "iris", " ")]
    [InlineData("--alias must not be empty", "rollback", "iris", "--alias", "")]
    [InlineData("unrecognized argument '--verbose'", "list", "--verbose")]
    [InlineData("unrecognized argument 'extra'", "history", "iris", "extra")]
    [InlineData("'quiver models' needs a subcommand: push, list, show, alias, promote, rollback, retire, history")]
    [InlineData("'quiver models alias' needs a subcommand: set, remove", "alias")]
    public async Task BadArguments_Exit2AndSendNothing(string expected, params string[] args)
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, args);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("", run.Output);
        Assert.Contains("error: " + expected, run.Error);
        Assert.Contains("--help'.", run.Error);
        Assert.Empty(server.Requests);
    }

    [Theory]
    [InlineData("ftp://example.com")]
    [InlineData("localhost:8000")]
    [InlineData("not a url")]
    public async Task BadServerAddress_Exits2(string address)
    {
        CliRun run = await ModelsCli.RunAsync("models", "list", "--server", address);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"error: --server '{address}' is not an http:// or https:// address", run.Error);
    }
}
