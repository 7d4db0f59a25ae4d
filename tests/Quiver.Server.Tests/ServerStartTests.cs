namespace Quiver.Server.Tests;

/// <summary>Start-up refusals: each names the problem, and all problems are listed together.</summary>
public sealed class ServerStartTests
{
    [Fact]
    public async Task Start_NonLoopbackHostWithoutAuth_RefusesAndSaysHowToAllowIt()
    {
        var options = new QuiverServerOptions { Host = "0.0.0.0", HttpPort = 0 };

        var error = await Assert.ThrowsAsync<ServerStartException>(() => QuiverServer.StartAsync(options));

        Assert.Contains("not a loopback address", error.Message);
        Assert.Contains("--allow-unauthenticated", error.Message);
    }

    [Fact]
    public async Task Start_SeveralBadOptions_ListsEveryError()
    {
        var options = new QuiverServerOptions { Host = "not-an-ip", HttpPort = 70000, MaxRequestBodyBytes = 10 };

        var error = await Assert.ThrowsAsync<ServerStartException>(() => QuiverServer.StartAsync(options));

        Assert.Equal(3, error.Errors.Count);
    }

    [Fact]
    public async Task Start_MissingRepository_NamesThePath()
    {
        var options = new QuiverServerOptions { ModelRepository = "/no/such/repository", HttpPort = 0, DataDirectory = TestServer.NewDataDirectory() };

        var error = await Assert.ThrowsAsync<ServerStartException>(() => QuiverServer.StartAsync(options));

        Assert.Contains("/no/such/repository", error.Message);
    }

    [Fact]
    public async Task Start_PortInUse_SaysWhichAddress()
    {
        await using TestServer first = await TestServer.StartAsync(Path.Combine(RepositoryRoot.Path, "examples", "models"));
        var options = new QuiverServerOptions
        {
            ModelRepository = Path.Combine(RepositoryRoot.Path, "examples", "models"),
            HttpPort = first.Server.HttpAddress.Port,
            DataDirectory = TestServer.NewDataDirectory(),
        };

        var error = await Assert.ThrowsAsync<ServerStartException>(() => QuiverServer.StartAsync(options));

        Assert.Contains($"127.0.0.1:{first.Server.HttpAddress.Port}", error.Message);
    }
}
