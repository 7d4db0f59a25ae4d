using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Admin;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Audit;

/// <summary>
/// A real server on loopback recording management actions in its audit log, read back through /v2/admin/audit; the
/// chain verified over HTTP and in /metrics; tampering with the SQLite file directly shows up there.
/// </summary>
public sealed class AuditApiTests : IAsyncLifetime
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-audit-repo-").FullName;
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(_repository, o => o with { RepositoryPollInterval = TimeSpan.Zero });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    private async Task<(int Status, JsonNode? Body)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Add("X-Quiver-Actor", "alice");
        if (json is not null)
        {
            request.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        using HttpResponseMessage response = await _server.Client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private async Task<JsonArray> EntriesAsync(string query = "")
    {
        var (status, body) = await _server.GetAsync("/v2/admin/audit" + query);
        Assert.Equal(200, status);
        return body!["entries"]!.AsArray();
    }

    [Fact]
    public async Task ManagementActions_AreRecordedWithActorResourceOutcomeAndReason()
    {
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "adder", AdminApiTests.Adder(1))).Status);
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "adder", AdminApiTests.Adder(2))).Status);
        Assert.Equal(200, (await SendAsync(HttpMethod.Post, "/v2/admin/models/adder/promote", """{"version": 1}""")).Status);
        Assert.Equal(200, (await SendAsync(HttpMethod.Put, "/v2/admin/models/adder/aliases/staging", """{"version": 2}""")).Status);
        Assert.Equal(404, (await SendAsync(HttpMethod.Post, "/v2/admin/models/nope/promote", """{"version": 1}""")).Status);
        Assert.Equal(200, (await SendAsync(HttpMethod.Delete, "/v2/admin/models/adder/aliases/staging")).Status);

        JsonArray entries = await EntriesAsync();
        var actions = entries.Select(e => ((string)e!["action"]!, (string)e["resource"]!, (string)e["outcome"]!)).ToList();

        Assert.Equal(
        [
            ("models.push", "models/adder", "success"),
            ("models.push", "models/adder", "success"),
            ("models.promote", "models/adder", "success"),
            ("models.alias.set", "models/adder/aliases/staging", "success"),
            ("models.promote", "models/nope", "failure"),
            ("models.alias.delete", "models/adder/aliases/staging", "success"),
        ], actions);
        JsonNode promote = entries[2]!;
        Assert.Equal("anonymous", (string?)promote["actor"]);
        Assert.Equal("127.0.0.1", (string?)promote["source"]);
        JsonNode details = JsonNode.Parse((string)promote["details"]!)!;
        Assert.Equal(1, (long)details["version"]!);
        Assert.Equal("alice", (string?)details["claimed_actor"]);
        JsonNode failed = JsonNode.Parse((string)entries[4]!["details"]!)!;
        Assert.Equal(404, (int)failed["status"]!);
        Assert.Contains("'nope' does not exist", (string?)failed["error"]);
        Assert.Equal(1, (long)entries[0]!["sequence"]!);
        Assert.Equal((string?)entries[0]!["hash"], (string?)entries[1]!["previous_hash"]);
    }

    [Fact]
    public async Task AuditQuery_SinceAndLimit_PageWithoutGaps_AndJsonLinesForASiem()
    {
        for (int i = 0; i < 5; i++)
        {
            await SendAsync(HttpMethod.Post, "/v2/admin/models/missing/rollback", "{}");
        }

        var (_, page) = await _server.GetAsync("/v2/admin/audit?limit=2");
        long next = (long)page!["next_since"]!;
        JsonArray rest = await EntriesAsync($"?since={next}&limit=100");
        using HttpResponseMessage lines = await _server.Client.GetAsync("/v2/admin/audit?format=jsonl");
        string[] jsonLines = (await lines.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        JsonArray recent = await EntriesAsync("?recent=1");

        Assert.Equal([1L, 2L], page["entries"]!.AsArray().Select(e => (long)e!["sequence"]!));
        Assert.Equal(2, next);
        Assert.Equal([3L, 4L, 5L], rest.Select(e => (long)e!["sequence"]!));
        Assert.Equal("application/x-ndjson", lines.Content.Headers.ContentType?.MediaType);
        Assert.Equal(5, jsonLines.Length);
        Assert.All(jsonLines, line => Assert.Equal("models.rollback", (string?)JsonNode.Parse(line)!["action"]));
        Assert.Equal(5, (long)recent.Single()!["sequence"]!);
    }

    [Theory]
    [InlineData("?since=yesterday", "since must be a sequence number")]
    [InlineData("?limit=0", "limit must be a whole number from 1 to 10000")]
    [InlineData("?limit=abc", "limit must be a whole number")]
    [InlineData("?format=xml", "format must be json or jsonl")]
    public async Task AuditQuery_BadParameters_Get400SayingWhatIsExpected(string query, string message)
    {
        var (status, body) = await _server.GetAsync("/v2/admin/audit" + query);

        Assert.Equal(400, status);
        Assert.Contains(message, (string?)body!["error"]);
    }

    [Fact]
    public async Task Verify_OverHttpAndInMetrics_TurnsInvalidAfterTheDatabaseIsEdited()
    {
        await SendAsync(HttpMethod.Post, "/v2/admin/models/missing/rollback", "{}");
        await SendAsync(HttpMethod.Post, "/v2/admin/models/missing/rollback", "{}");
        var (_, intact) = await _server.GetAsync("/v2/admin/audit/verify");
        string metricsBefore = await _server.Client.GetStringAsync("/metrics");

        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(_server.DataDirectory, "registry.db")};Pooling=False"))
        {
            await connection.OpenAsync();
            await using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "UPDATE audit_log SET outcome = 'success' WHERE sequence = 2";
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        var (_, broken) = await _server.GetAsync("/v2/admin/audit/verify");
        string metricsAfter = await _server.Client.GetStringAsync("/metrics");

        Assert.True((bool)intact!["valid"]!, intact.ToJsonString());
        Assert.Contains("\nquiver_audit_chain_valid 1\n", "\n" + metricsBefore);
        Assert.False((bool)broken!["valid"]!);
        Assert.Equal(2, (long)broken["first_bad_sequence"]!);
        Assert.Equal("edited", (string?)broken["problem"]);
        Assert.Contains("\nquiver_audit_chain_valid 0\n", "\n" + metricsAfter);
    }

    [Fact]
    public async Task Anchor_OnDemand_CoversTheHeadAndIsItselfAudited()
    {
        await SendAsync(HttpMethod.Post, "/v2/admin/models/missing/rollback", "{}");

        var (status, anchor) = await SendAsync(HttpMethod.Post, "/v2/admin/audit/anchor");
        var (_, verified) = await _server.GetAsync("/v2/admin/audit/verify");

        Assert.Equal(200, status);
        Assert.True((bool)anchor!["anchored"]!);
        Assert.Equal(1, (long)anchor["sequence"]!);
        Assert.Equal(1, (long)verified!["anchored_through"]!);
        Assert.Equal("audit.anchor", (string?)(await EntriesAsync()).Last()!["action"]);
    }

    [Fact]
    public async Task GrpcRepositoryLoadAndUnload_AreAuditedLikeRest()
    {
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "adder", AdminApiTests.Adder(1))).Status);
        using var client = new GrpcTestClient(_server.Server.GrpcAddress);

        GrpcResult unloaded = await client.CallAsync("RepositoryModelUnload", GrpcTestClient.Frame(new RepositoryModelUnloadRequest { ModelName = "adder" }));
        GrpcResult missing = await client.CallAsync("RepositoryModelLoad", GrpcTestClient.Frame(new RepositoryModelLoadRequest { ModelName = "nope" }));
        JsonArray entries = await EntriesAsync();

        Assert.Equal(0, unloaded.Status);
        Assert.NotEqual(0, missing.Status);
        Assert.Equal(("repository.unload", "models/adder", "success"),
            ((string)entries[1]!["action"]!, (string)entries[1]!["resource"]!, (string)entries[1]!["outcome"]!));
        Assert.Equal(("repository.load", "models/nope", "failure"),
            ((string)entries[2]!["action"]!, (string)entries[2]!["resource"]!, (string)entries[2]!["outcome"]!));
        Assert.Contains(missing.GrpcMessage, (string?)entries[2]!["details"]);
    }

    [Fact]
    public async Task AuditKey_IsCreatedInTheDataDirectory_ReadableByItsOwnerOnly()
    {
        string key = Path.Combine(_server.DataDirectory, "audit.key");

        Assert.True(File.Exists(key));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }
    }
}
