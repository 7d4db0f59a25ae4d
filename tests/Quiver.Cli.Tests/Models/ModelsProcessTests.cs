namespace Quiver.Cli.Tests.Models;

/// <summary><c>quiver models</c> as a separate process, as scripts run it: environment, exit codes and help.</summary>
public sealed class ModelsProcessTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task QuiverServerVariable_IsUsedWhenNoServerOptionIsGiven()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        using QuiverProcess quiver = QuiverProcess.StartWithEnvironment(new Dictionary<string, string> { ["QUIVER_SERVER"] = server.Url }, "models", "list");

        Assert.True(await quiver.WaitForExitAsync(s_timeout) == 0, quiver.Error);
        Assert.Contains("text_echo", quiver.Output);
        Assert.Equal("/v2/admin/models", server.SingleRequest.Path);
    }

    [Fact]
    public async Task ServerOption_WinsOverTheVariable()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        using QuiverProcess quiver = QuiverProcess.StartWithEnvironment(new Dictionary<string, string> { ["QUIVER_SERVER"] = "http://127.0.0.1:1" },
            "models", "show", "iris", "--server", server.Url);

        Assert.True(await quiver.WaitForExitAsync(s_timeout) == 0, quiver.Error);
        Assert.Equal("/v2/admin/models/iris", server.SingleRequest.Path);
    }

    [Fact]
    public async Task ExitCodes_AreTheProcessExitCodes()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        using QuiverProcess notFound = QuiverProcess.Start("models", "show", "nope", "--server", server.Url);
        using QuiverProcess badVersion = QuiverProcess.Start("models", "show", "iris", "abc", "--server", server.Url);

        Assert.Equal(1, await notFound.WaitForExitAsync(s_timeout));
        Assert.Equal("error: model 'nope' not found\n", notFound.Error);
        Assert.Equal(2, await badVersion.WaitForExitAsync(s_timeout));
        Assert.StartsWith("error: VERSION 'abc' is not a version number", badVersion.Error);
    }

    [Fact]
    public async Task Help_ListsEveryCommand()
    {
        using QuiverProcess quiver = QuiverProcess.Start("models", "--help");

        Assert.Equal(0, await quiver.WaitForExitAsync(s_timeout));
        foreach (string command in new[] { "push", "list", "show", "alias", "promote", "rollback", "retire", "history", "--server", "--json" })
        {
            Assert.Contains(command, quiver.Output);
        }
    }
}
