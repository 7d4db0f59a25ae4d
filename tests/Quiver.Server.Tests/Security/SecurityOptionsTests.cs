using Quiver.Core.Security;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>Secure by default, --open-health, and the unchanged behaviour without --auth on loopback.</summary>
public sealed class SecurityOptionsTests : IDisposable
{
    private readonly string _emptyRepository = Directory.CreateTempSubdirectory("quiver-empty-repo-").FullName;

    public void Dispose() => Directory.Delete(_emptyRepository, recursive: true);

    [Fact]
    public void ANonLoopbackHost_WithoutAuthentication_IsRefused_SayingHowToConfigureIt()
    {
        IReadOnlyList<string> errors = new QuiverServerOptions { Host = "0.0.0.0" }.Validate();

        string error = Assert.Single(errors);
        Assert.Contains("not a loopback address", error);
        Assert.Contains("--auth", error);
        Assert.Contains("quiver keys create", error);
        Assert.Contains("--allow-unauthenticated", error);
    }

    [Fact]
    public void ANonLoopbackHost_WithAuthentication_IsAccepted()
    {
        Assert.Empty(new QuiverServerOptions { Host = "0.0.0.0", RequireAuthentication = true, OpenHealth = true }.Validate());
    }

    [Fact]
    public void OpenHealth_WithoutAuthentication_IsRefusedAsMeaningless()
    {
        Assert.Contains(new QuiverServerOptions { OpenHealth = true }.Validate(), e => e.Contains("--open-health only matters with authentication on"));
    }

    [Fact]
    public async Task OpenHealth_LetsProbesIn_WithoutCredentials_AndNothingElse()
    {
        await using TestServer server = await TestServer.StartAsync(_emptyRepository, o => o with { RequireAuthentication = true, OpenHealth = true });
        using var grpc = new GrpcTestClient(server.Server.GrpcAddress);

        Assert.Equal(200, (await server.GetAsync("/v2/health/live")).Status);
        Assert.Equal(200, (await server.GetAsync("/v2/health/ready")).Status);
        Assert.Equal(0, (await grpc.CallAsync("ServerLive", GrpcTestClient.Frame(new ServerLiveRequest()))).Status);
        Assert.Equal(0, (await grpc.CallAsync("ServerReady", GrpcTestClient.Frame(new ServerReadyRequest()))).Status);
        Assert.Equal(401, (await server.GetAsync("/v2")).Status);
        Assert.Equal(401, (await server.GetAsync("/metrics")).Status);
        Assert.Equal(16, (await grpc.CallAsync("ServerMetadata", GrpcTestClient.Frame(new ServerMetadataRequest()))).Status);
    }

    [Fact]
    public async Task WithoutAuth_OnLoopback_EveryCallerIsAnonymous_AsBefore()
    {
        await using TestServer server = await TestServer.StartAsync(_emptyRepository);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2/admin/models");
        request.Headers.TryAddWithoutValidation("Authorization", "Basic ignored");
        using HttpResponseMessage response = await server.Client.SendAsync(request);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(200, (await server.GetAsync("/v2")).Status);

        // Keys in the registry change nothing while authentication is off.
        await new ApiKeyManager(server.Server.Lifecycle.Registry, TimeProvider.System).CreateAsync("unused", [Role.Viewer], null, null);
        using HttpResponseMessage metrics = await server.Client.GetAsync("/metrics");
        Assert.Equal(200, (int)metrics.StatusCode);
    }
}
