using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Admin;

/// <summary>
/// The model management API against a real server, registry (SQLite) and artifact store: push, list, show, aliases,
/// promote, rollback, retire, history, and every bad input the issue names.
/// </summary>
public sealed class AdminApiTests : IAsyncLifetime
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-admin-repo-").FullName;
    private TestServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await TestServer.StartAsync(_repository, o => o with { RepositoryPollInterval = TimeSpan.Zero });

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    /// <summary>A model that adds <paramref name="addend"/> to a [batch, width] float input.</summary>
    internal static byte[] Adder(double addend, int width = 1) =>
        SampleModels.AddConstant(TensorElementType.Float, addend, "batch", width).ToBytes();

    internal static async Task<(int Status, JsonNode? Body)> PushAsync(TestServer server, string model, byte[] bytes, string query = "")
    {
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using HttpResponseMessage response = await server.Client.PostAsync($"/v2/admin/models/{model}/versions{query}", content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    internal static async Task<float> InferOneAsync(TestServer server, string model, float x, string? version = null)
    {
        string path = version is null ? $"/v2/models/{model}/infer" : $"/v2/models/{model}/versions/{version}/infer";
        var (status, body) = await server.PostAsync(path, $$"""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[{{x}}]}]}""");
        Assert.True(status == 200, $"infer {path}: HTTP {status} {body?.ToJsonString()}");
        return (float)body!["outputs"]![0]!["data"]![0]!;
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

    [Fact]
    public async Task Push_Promote_Rollback_Retire_TheWholeLifecycle()
    {
        var (status, pushed) = await PushAsync(_server, "adder", Adder(1), "?description=first&tags=a,b&training_run_id=run-7&creator=bob");
        Assert.Equal(201, status);
        Assert.Equal(1, (long)pushed!["version"]!);
        Assert.Equal("ready", (string?)pushed["state"]);
        Assert.Equal(2f, await InferOneAsync(_server, "adder", 1));
        var (_, loaded) = await SendAsync(HttpMethod.Get, "/v2/admin/models/adder");
        JsonNode serving = loaded!["serving"]!.AsArray().Single(s => (long)s!["version"]! == 1)!;
        Assert.Equal(["CPUExecutionProvider"], serving["execution_providers"]!.AsArray().Select(p => (string?)p));

        Assert.Equal(201, (await PushAsync(_server, "adder", Adder(2), "?alias=staging")).Status);
        Assert.Equal(3f, await InferOneAsync(_server, "adder", 1)); // no production alias: the latest ready version
        Assert.Equal(3f, await InferOneAsync(_server, "adder", 1, "staging")); // an alias works where a version number does

        var (promoted, move) = await SendAsync(HttpMethod.Post, "/v2/admin/models/adder/promote", """{"version": 1}""");
        Assert.Equal(200, promoted);
        Assert.Equal(1, (long)move!["version"]!);
        Assert.Null(move["previous_version"]);
        Assert.Equal(2f, await InferOneAsync(_server, "adder", 1)); // production now decides

        Assert.Equal(200, (await SendAsync(HttpMethod.Post, "/v2/admin/models/adder/promote", """{"version": 2}""")).Status);
        Assert.Equal(3f, await InferOneAsync(_server, "adder", 1));
        var (rolledBack, back) = await SendAsync(HttpMethod.Post, "/v2/admin/models/adder/rollback", "");
        Assert.Equal(200, rolledBack);
        Assert.Equal((1L, 2L), ((long)back!["version"]!, (long)back["previous_version"]!));
        Assert.Equal(2f, await InferOneAsync(_server, "adder", 1));

        var (_, history) = await SendAsync(HttpMethod.Get, "/v2/admin/models/adder/history");
        JsonArray changes = history!["changes"]!.AsArray();
        Assert.True((bool)changes[0]!["rollback"]!);
        Assert.Equal("alice", (string?)changes[0]!["changed_by"]);

        var (_, list) = await SendAsync(HttpMethod.Get, "/v2/admin/models");
        JsonNode adder = list!["models"]!.AsArray().Single(m => (string?)m!["name"] == "adder")!;
        Assert.Equal(1, (long)adder["aliases"]!["production"]!);
        Assert.Equal(2, (long)adder["aliases"]!["staging"]!);
        JsonNode first = adder["versions"]![0]!;
        Assert.Equal(("first", "bob", "run-7"), ((string?)first["description"], (string?)first["creator"], (string?)first["training_run_id"]));
        Assert.Equal(["a", "b"], first["tags"]!.AsArray().Select(t => (string?)t));
        Assert.Equal("FP32", (string?)first["inputs"]![0]!["datatype"]);
        Assert.Equal("ready", (string?)first["state"]);

        // v2 is staging: retiring it is refused until the alias moves; then it stops serving for good.
        var (refused, refusal) = await SendAsync(HttpMethod.Post, "/v2/admin/models/adder/versions/2/retire", "{}");
        Assert.Equal(409, refused);
        Assert.Contains("staging", (string?)refusal!["error"]);
        Assert.Equal(200, (await SendAsync(HttpMethod.Delete, "/v2/admin/models/adder/aliases/staging")).Status);
        var (retired, version) = await SendAsync(HttpMethod.Post, "/v2/admin/models/adder/versions/2/retire", """{"reason": "worse"}""");
        Assert.Equal(200, retired);
        Assert.Equal(("retired", "worse"), ((string?)version!["state"], (string?)version["reason"]));
        Assert.Equal(404, (await _server.GetAsync("/v2/models/adder/versions/2/ready")).Status);

        var (_, detail) = await SendAsync(HttpMethod.Get, "/v2/admin/models/adder");
        Assert.Contains(detail!["replicas"]!.AsArray(), r => (long)r!["version"]! == 1 && (string?)r["state"] == "ready");
    }

    [Fact]
    public async Task Push_TheSameArtifactTwice_KeepsOneCopy_AndReturnsTheExistingVersion()
    {
        Assert.Equal(201, (await PushAsync(_server, "twice", Adder(5))).Status);
        var (status, again) = await PushAsync(_server, "twice", Adder(5));

        Assert.Equal(200, status);
        Assert.True((bool)again!["existing"]!);
        Assert.True((bool)again["already_stored"]!);
        Assert.Equal(1, (long)again["version"]!);
        string sha = (string)again["sha256"]!;
        Assert.Single(Directory.EnumerateFiles(_server.DataDirectory, sha, SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Push_ASignatureThatBreaksTheAliasClients_IsRefusedUnlessForced()
    {
        Assert.Equal(201, (await PushAsync(_server, "sig", Adder(1, width: 1))).Status);
        Assert.Equal(200, (await SendAsync(HttpMethod.Post, "/v2/admin/models/sig/promote", """{"version": 1}""")).Status);

        var (refused, error) = await PushAsync(_server, "sig", Adder(1, width: 4));
        Assert.Equal(409, refused);
        Assert.Contains("input 'input': shape [-1,1] -> [-1,4]", (string?)error!["error"]);
        Assert.Contains("force", (string?)error["error"]);

        var (forced, body) = await PushAsync(_server, "sig", Adder(1, width: 4), "?force=true");
        Assert.Equal(201, forced);
        Assert.Contains("shape [-1,1] -> [-1,4]", (string?)body!["signature_changes"]![0]);
        Assert.Equal(2f, await InferOneAsync(_server, "sig", 1)); // production still on version 1
    }

    public static TheoryData<string, byte[], string> BadArtifacts => new()
    {
        { "empty", [], "empty" },
        { "not ONNX", "definitely not a model"u8.ToArray(), "not a valid ONNX model" },
        { "truncated", Adder(1)[..40], "not a valid ONNX model" },
    };

    [Theory]
    [MemberData(nameof(BadArtifacts))]
    public async Task Push_OfABadFile_Is400_AndRegistersNothing(string what, byte[] bytes, string message)
    {
        var (status, body) = await PushAsync(_server, "bad", bytes);

        Assert.True(status == 400, what);
        Assert.Contains(message, (string?)body!["error"]);
        Assert.Equal(404, (await SendAsync(HttpMethod.Get, "/v2/admin/models/bad")).Status);
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "artifacts"), "*", SearchOption.AllDirectories),
            f => !Path.GetFileName(f).StartsWith('.'));
    }

    public static TheoryData<string, string, string, int, string> BadManagementRequests => new()
    {
        { "PUT", "/v2/admin/models/m/aliases/staging", """{"version": 9}""", 404, "no version 9" },
        { "PUT", "/v2/admin/models/m/aliases/staging", """{"version": "one"}""", 400, "positive integer" },
        { "PUT", "/v2/admin/models/m/aliases/123", """{"version": 1}""", 400, "all digits" },
        { "POST", "/v2/admin/models/m/promote", "{not json", 400, "malformed JSON" },
        { "POST", "/v2/admin/models/m/promote", "", 400, "\"version\"" },
        { "POST", "/v2/admin/models/m/rollback", "", 404, "production" },
        { "POST", "/v2/admin/models/m/rollback", """{"alias": 7}""", 400, "must be a string" },
        { "POST", "/v2/admin/models/nope/promote", """{"version": 1}""", 404, "'nope' does not exist" },
        { "GET", "/v2/admin/models/nope", "", 404, "'nope' does not exist" },
        { "GET", "/v2/admin/models/m/versions/x", "", 400, "not a positive integer" },
        { "GET", "/v2/admin/models/m/versions/5", "", 404, "no version 5" },
        { "POST", "/v2/admin/models/m/versions?force=maybe", "", 400, "force must be true or false" },
        { "POST", "/v2/admin/models/bad%20name/versions", "x", 400, "not a valid model name" },
        { "POST", "/v2/admin/models/m/versions?config=%7Bnot", "x", 400, "configuration is not valid" },
    };

    [Theory]
    [MemberData(nameof(BadManagementRequests))]
    public async Task BadManagementRequest_GetsAClear4xx(string method, string path, string body, int expected, string message)
    {
        Assert.Equal(201, (await PushAsync(_server, "m", Adder(1))).Status);

        var (status, error) = await SendAsync(new HttpMethod(method), path, body);

        Assert.Equal(expected, status);
        Assert.Contains(message, (string?)error!["error"]);
    }

    [Fact]
    public async Task RetiringTheOnlyVersion_LeavesTheModelUnavailable_NotBroken()
    {
        Assert.Equal(201, (await PushAsync(_server, "gone", Adder(1))).Status);
        Assert.Equal(200, (await SendAsync(HttpMethod.Post, "/v2/admin/models/gone/versions/1/retire", "{}")).Status);

        var (status, error) = await _server.PostAsync("/v2/models/gone/infer",
            """{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[1]}]}""");

        Assert.Equal(503, status);
        Assert.Contains("no version to serve", (string?)error!["error"]);
        Assert.Equal(409, (await SendAsync(HttpMethod.Post, "/v2/admin/models/gone/promote", """{"version": 1}""")).Status);
    }

    [Fact]
    public async Task BlueGreen_SwitchesAtOnce_KeepsTheOldVersionWarmForRollback_UntilFinalize()
    {
        // With "latest 1" only the newest version and alias targets are loaded: the standby alias is what keeps version 1 warm.
        string config = "?config=" + Uri.EscapeDataString("""{"version_policy": {"latest": 1}}""");
        Assert.Equal(201, (await PushAsync(_server, "bg", Adder(1), config)).Status);
        Assert.Equal(201, (await PushAsync(_server, "bg", Adder(2), config)).Status);
        Assert.Equal(200, (await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/promote", """{"version": 1}""")).Status);

        var (switched, state) = await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/bluegreen", """{"version": 2}""");
        Assert.Equal(200, switched);
        Assert.Equal((2L, 1L), ((long)state!["live"]!, (long)state["standby"]!));
        Assert.Equal(3f, await InferOneAsync(_server, "bg", 1));
        Assert.Equal(200, (await _server.GetAsync("/v2/models/bg/versions/1/ready")).Status);

        Assert.Equal(200, (await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/bluegreen/rollback")).Status);
        Assert.Equal(2f, await InferOneAsync(_server, "bg", 1));
        Assert.Equal(200, (await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/bluegreen/rollback")).Status);
        Assert.Equal(3f, await InferOneAsync(_server, "bg", 1));

        var (finalized, after) = await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/bluegreen/finalize");
        Assert.Equal(200, finalized);
        Assert.Null(after!["standby"]);
        Assert.Equal(404, (await _server.GetAsync("/v2/models/bg/versions/1/ready")).Status); // released
        Assert.Equal(409, (await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/bluegreen/rollback")).Status);
        Assert.Equal(404, (await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/bluegreen", """{"version": 9}""")).Status);
        Assert.Equal(400, (await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/bluegreen", """{"version": 2}""")).Status);
        Assert.Equal(400, (await SendAsync(HttpMethod.Post, "/v2/admin/models/bg/bluegreen/sideways")).Status);
    }

    [Fact]
    public async Task Rollback_WithNoEarlierVersion_Is409_AndTheAliasStays()
    {
        Assert.Equal(201, (await PushAsync(_server, "once", Adder(1))).Status);
        Assert.Equal(200, (await SendAsync(HttpMethod.Post, "/v2/admin/models/once/promote", """{"version": 1}""")).Status);

        var (status, error) = await SendAsync(HttpMethod.Post, "/v2/admin/models/once/rollback", """{"alias": "production"}""");

        Assert.Equal(409, status);
        Assert.Contains("no earlier version", (string?)error!["error"]);
        Assert.Equal(2f, await InferOneAsync(_server, "once", 1));
    }

    [Fact]
    public async Task Alias_ToAFailedVersion_IsRefused()
    {
        // A configuration this machine cannot honour (CUDA, no fallback) fails the version at load.
        var (status, body) = await PushAsync(_server, "misfit", Adder(1),
            "?config=" + Uri.EscapeDataString("""{"execution_providers": ["cuda"], "fallback_to_cpu": false}"""));
        Assert.Equal(201, status);
        Assert.Equal("failed", (string?)body!["state"]);

        var (refused, error) = await SendAsync(HttpMethod.Put, "/v2/admin/models/misfit/aliases/production", """{"version": 1}""");

        Assert.Equal(409, refused);
        Assert.Contains("failed", (string?)error!["error"]);
    }
}
