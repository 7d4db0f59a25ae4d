using System.Text.Json.Nodes;
using Quiver.Onnx;
using Quiver.Server.Tests.Admin;

namespace Quiver.Server.Tests.Audit;

/// <summary>
/// Data residency on real servers: a version restricted to other regions is refused (failed on this replica, with a
/// reason naming both regions, and audited), an allowed one serves, and bad region names are rejected up front.
/// </summary>
public sealed class DataResidencyTests : IDisposable
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-residency-repo-").FullName;

    public void Dispose() => Directory.Delete(_repository, recursive: true);

    private Task<TestServer> StartAsync(string? region) =>
        TestServer.StartAsync(_repository, o => o with { RepositoryPollInterval = TimeSpan.Zero, Region = region, ReplicaName = "replica-a" });

    [Fact]
    public async Task Push_RestrictedToAnotherRegion_IsRefusedOnThisReplica_WithBothRegions_AndAudited()
    {
        await using TestServer server = await StartAsync("us-east-1");

        var (status, pushed) = await AdminApiTests.PushAsync(server, "adder", AdminApiTests.Adder(1), "?regions=eu-west-1,eu-central-1");
        var (_, model) = await server.GetAsync("/v2/admin/models/adder");
        var (inferStatus, _) = await server.PostAsync("/v2/models/adder/infer",
            """{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[1]}]}""");
        var (_, audit) = await server.GetAsync("/v2/admin/audit");

        Assert.Equal(201, status);
        Assert.Equal("failed", (string?)pushed!["state"]);
        JsonNode version = model!["versions"]![0]!;
        Assert.Equal(["eu-west-1", "eu-central-1"], version["allowed_regions"]!.AsArray().Select(r => (string?)r));
        Assert.Equal("registered", (string?)version["state"]); // refused here only: it stays loadable where it is allowed
        JsonNode replica = model["replicas"]!.AsArray().Single()!;
        Assert.Equal(("replica-a", "failed"), ((string?)replica["replica"], (string?)replica["state"]));
        Assert.Contains("eu-west-1, eu-central-1", (string?)replica["reason"]);
        Assert.Contains("us-east-1", (string?)replica["reason"]);
        Assert.Contains("us-east-1", (string?)model["serving"]![0]!["reason"]);
        Assert.Equal(503, inferStatus);
        JsonNode refusal = audit!["entries"]!.AsArray().Single(e => (string?)e!["action"] == "models.load")!;
        Assert.Equal(("replica:replica-a", "models/adder/versions/1", "denied"),
            ((string?)refusal["actor"], (string?)refusal["resource"], (string?)refusal["outcome"]));
        Assert.Contains("us-east-1", (string?)refusal["details"]);
    }

    [Fact]
    public async Task Push_RestrictedToThisRegion_Serves()
    {
        await using TestServer server = await StartAsync("eu-west-1");

        var (status, pushed) = await AdminApiTests.PushAsync(server, "adder", AdminApiTests.Adder(1), "?regions=eu-west-1");

        Assert.Equal(201, status);
        Assert.Equal("ready", (string?)pushed!["state"]);
        Assert.Equal(2f, await AdminApiTests.InferOneAsync(server, "adder", 1));
    }

    [Fact]
    public async Task RestrictedVersion_OnAServerWithNoRegion_IsRefusedSayingSo()
    {
        await using TestServer server = await StartAsync(null);

        await AdminApiTests.PushAsync(server, "adder", AdminApiTests.Adder(1), "?regions=eu-west-1");
        var (_, model) = await server.GetAsync("/v2/admin/models/adder");

        Assert.Contains("this server has no region", (string?)model!["replicas"]![0]!["reason"]);
    }

    [Fact]
    public async Task RepositoryConfigJson_AllowedRegions_IsRecordedAndEnforced()
    {
        string dir = Path.Combine(_repository, "adder", "1");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), AdminApiTests.Adder(1));
        File.WriteAllText(Path.Combine(_repository, "adder", "config.json"), """{"allowed_regions": ["eu-central-1"]}""");
        await using TestServer server = await StartAsync("eu-west-1");

        var (_, model) = await server.GetAsync("/v2/admin/models/adder");

        Assert.Equal(["eu-central-1"], model!["versions"]![0]!["allowed_regions"]!.AsArray().Select(r => (string?)r));
        Assert.Equal("failed", (string?)model["replicas"]![0]!["state"]);
        Assert.Contains("not in this server's region eu-west-1", (string?)model["replicas"]![0]!["reason"]);
    }

    [Theory]
    [InlineData("?regions=EU_West", "'EU_West' is not a region name")]
    [InlineData("?regions=,", "the list of allowed regions is empty")]
    public async Task Push_WithBadRegions_Gets400SayingWhatIsExpected(string query, string message)
    {
        await using TestServer server = await StartAsync("eu-west-1");

        var (status, body) = await AdminApiTests.PushAsync(server, "adder", AdminApiTests.Adder(1), query);

        Assert.Equal(400, status);
        Assert.Contains(message, (string?)body!["error"]);
    }

    [Fact]
    public async Task Start_WithABadRegion_RefusesNamingIt()
    {
        ServerStartException e = await Assert.ThrowsAsync<ServerStartException>(() => StartAsync("Europe West"));

        Assert.Contains("--region: 'Europe West' is not a region name", e.Message);
    }
}
