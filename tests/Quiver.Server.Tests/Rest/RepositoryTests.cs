using System.Text.Json.Nodes;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Rest;

/// <summary>The model repository and model configuration extensions, REST and gRPC, on a server of their own.</summary>
public sealed class RepositoryTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly TestServer _server = fixture.Server;

    private const string MlpRow = """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""";

    private static string Scores(int rows) =>
        $$"""{"inputs":[{"name":"input","shape":[{{rows}},3],"datatype":"FP32","data":[{{string.Join(",", Enumerable.Repeat("1", rows * 3))}}]}]}""";

    private async Task<JsonArray> IndexAsync(string body = "{}")
    {
        var (status, index) = await _server.PostAsync("/v2/repository/index", body);
        Assert.Equal(200, status);
        return index!.AsArray();
    }

    private void AddModel(string name, ModelBuilder model)
    {
        string dir = Path.Combine(fixture.Root, name, "1");
        Directory.CreateDirectory(dir);
        model.Save(Path.Combine(dir, "model.onnx"));
    }

    [Fact]
    public async Task Index_ListsEveryVersionWithItsState_AndReadyFilters()
    {
        JsonArray index = await IndexAsync();

        JsonNode mlp = index.Single(e => (string?)e!["name"] == "mlp")!;
        Assert.Equal(("1", "READY"), ((string?)mlp["version"], (string?)mlp["state"]));
        JsonNode corrupt = index.Single(e => (string?)e!["name"] == "corrupt")!;
        Assert.Equal("UNAVAILABLE", (string?)corrupt["state"]);
        Assert.Contains("is not a valid ONNX model", (string?)corrupt["reason"]);

        JsonArray ready = await IndexAsync("""{"ready": true}""");
        Assert.DoesNotContain(ready, e => (string?)e!["name"] == "corrupt");
        Assert.Contains(ready, e => (string?)e!["name"] == "mlp_versions" && (string?)e["version"] == "2");
    }

    [Fact]
    public async Task UnloadThenLoad_TakesTheModelOutOfServiceAndBack()
    {
        Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/fp16/unload", "")).Status);

        var (inferStatus, inferBody) = await _server.PostAsync("/v2/models/fp16/infer",
            """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP16","data":[1,2,3,4]}]}""");
        Assert.Equal(503, inferStatus);
        Assert.Contains("unloaded", (string?)inferBody!["error"]);
        Assert.Equal(400, (await _server.GetAsync("/v2/models/fp16/ready")).Status);
        Assert.Contains(await IndexAsync(), e => (string?)e!["name"] == "fp16" && (string?)e["state"] == "UNAVAILABLE" && (string?)e["reason"] == "unloaded");

        Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/fp16/load", "")).Status);

        Assert.Equal(200, (await _server.GetAsync("/v2/models/fp16/ready")).Status);
        Assert.Equal(200, (await _server.PostAsync("/v2/models/fp16/infer",
            """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP16","data":[1,2,3,4]}]}""")).Status);
    }

    [Fact]
    public async Task Load_AModelAddedAfterStart_ServesIt()
    {
        AddModel("late", SampleModels.Identity(TensorElementType.Float, "batch", 3));

        Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/late/load", "{}")).Status);

        var (status, body) = await _server.PostAsync("/v2/models/late/infer", Scores(2));
        Assert.Equal(200, status);
        Assert.Equal("[2,3]", body!["outputs"]![0]!["shape"]!.ToJsonString());
    }

    [Fact]
    public async Task Load_WithConfigOverride_AppliesIt()
    {
        AddModel("overridden", SampleModels.Identity(TensorElementType.Float, "batch", 3));
        string config = """{"max_batch_size": 2, "input": [{"name": "input", "data_type": "TYPE_FP32", "dims": ["3"]}], "instance_group": [{"count": 2, "kind": "KIND_CPU"}]}""";

        var (loadStatus, _) = await _server.PostAsync("/v2/repository/models/overridden/load",
            new JsonObject { ["parameters"] = new JsonObject { ["config"] = config } }.ToJsonString());

        Assert.Equal(200, loadStatus);
        var (status, body) = await _server.PostAsync("/v2/models/overridden/infer", Scores(3));
        Assert.Equal(400, status);
        Assert.Contains("max_batch_size 2", (string?)body!["error"]);
        var (_, configBody) = await _server.GetAsync("/v2/models/overridden/config");
        Assert.Equal(2, (int)configBody!["instance_group"]![0]!["count"]!);
    }

    [Fact]
    public async Task Load_ConfigOverrideThatDisagreesWithTheModel_FailsNamingTheField()
    {
        AddModel("mismatch", SampleModels.Identity(TensorElementType.Float, "batch", 3));
        string config = """{"input": [{"name": "input", "data_type": "TYPE_INT32", "dims": [-1, 3]}]}""";

        var (status, body) = await _server.PostAsync("/v2/repository/models/mismatch/load",
            new JsonObject { ["parameters"] = new JsonObject { ["config"] = config } }.ToJsonString());

        Assert.Equal(400, status);
        Assert.Contains("data_type", (string?)body!["error"]);
        Assert.Contains("TYPE_INT32", (string?)body["error"]);
    }

    [Fact]
    public async Task ConfigPbtxtReshape_ClientsUseDims_TheModelSeesTheReshape()
    {
        AddModel("reshaped", SampleModels.Identity(TensorElementType.Float, "batch", 6));
        File.WriteAllText(Path.Combine(fixture.Root, "reshaped", "config.pbtxt"), """
            platform: "onnxruntime_onnx"
            max_batch_size: 4
            input [ { name: "input" data_type: TYPE_FP32 dims: [ 2, 3 ] reshape: { shape: [ 6 ] } } ]
            output [ { name: "output" data_type: TYPE_FP32 dims: [ 2, -1 ] reshape: { shape: [ 6 ] } } ]
            """);
        Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/reshaped/load", "")).Status);

        var (_, metadata) = await _server.GetAsync("/v2/models/reshaped");
        Assert.Equal("[-1,2,3]", metadata!["inputs"]![0]!["shape"]!.ToJsonString());
        var (status, body) = await _server.PostAsync("/v2/models/reshaped/infer",
            """{"inputs":[{"name":"input","shape":[2,2,3],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}""");

        Assert.Equal(200, status);
        Assert.Equal("[2,2,3]", body!["outputs"]![0]!["shape"]!.ToJsonString());
        Assert.Equal("[1,2,3,4,5,6,7,8,9,10,11,12]", body["outputs"]![0]!["data"]!.ToJsonString());
        var (_, config) = await _server.GetAsync("/v2/models/reshaped/config");
        Assert.Equal("[6]", config!["input"]![0]!["reshape"]!["shape"]!.ToJsonString());
        Assert.Equal("[2,3]", config["input"]![0]!["dims"]!.ToJsonString());
    }

    [Fact]
    public async Task Reload_OfACorruptedFile_KeepsTheOldLoadServing()
    {
        AddModel("fragile", SampleModels.Identity(TensorElementType.Float, "batch", 3));
        Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/fragile/load", "")).Status);
        File.WriteAllText(Path.Combine(fixture.Root, "fragile", "1", "model.onnx"), "now garbage");

        var (status, body) = await _server.PostAsync("/v2/repository/models/fragile/load", "");

        Assert.Equal(400, status);
        Assert.Contains("keep serving", (string?)body!["error"]);
        Assert.Equal(200, (await _server.PostAsync("/v2/models/fragile/infer", Scores(1))).Status);
        Assert.Contains(await IndexAsync(), e => (string?)e!["name"] == "fragile" && (string?)e["state"] == "READY"
            && ((string?)e["reason"])!.Contains("changed since it was registered as version 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HotSwap_UnderLoad_NoRequestFails_AndAnswersMoveToTheNewVersion()
    {
        string Folder(int version) => Path.Combine(fixture.Root, "swap", version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Folder(1));
        SampleModels.AddConstant(TensorElementType.Float, 1, "batch", 1).Save(Path.Combine(Folder(1), "model.onnx"));
        Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/swap/load", "")).Status);

        await SwapUnderLoad.RunAsync(_server, "swap", async () =>
        {
            Directory.CreateDirectory(Folder(2));
            SampleModels.AddConstant(TensorElementType.Float, 2, "batch", 1).Save(Path.Combine(Folder(2), "model.onnx"));
            Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/swap/load", "")).Status);
        });
    }

    public static TheoryData<string, string, int, string> BadRequests => new()
    {
        { "/v2/repository/models/nope/load", "", 404, "nope" },
        { "/v2/repository/models/nope/unload", "", 404, "nope" },
        { "/v2/repository/models/corrupt/load", "", 400, "failed to load" },
        { "/v2/repository/models/mlp/load", "{\"parameters\":", 400, "malformed JSON" },
        { "/v2/repository/models/mlp/load", "[]", 400, "JSON object" },
        { "/v2/repository/models/mlp/load", """{"parameters":{"config":{"max_batch_size":1}}}""", 400, "parameters.config must be a string" },
        { "/v2/repository/models/mlp/load", """{"parameters":{"config":"{not json"}}""", 400, "not valid JSON" },
        { "/v2/repository/models/mlp/load", """{"parameters":{"config":"{\"max_batch_size\":\"many\"}"}}""", 400, "max_batch_size" },
        { "/v2/repository/index", "{\"ready\": ", 400, "malformed JSON" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadRepositoryRequest_GetsAClear4xx(string path, string body, int status, string message)
    {
        var (actual, response) = await _server.PostAsync(path, body);

        Assert.Equal(status, actual);
        Assert.Contains(message, (string?)response!["error"]);
    }

    [Fact]
    public async Task Config_IsTritonsJsonForm_AndLoadsBackAsAnOverride()
    {
        var (status, config) = await _server.GetAsync("/v2/models/mlp/config");

        Assert.Equal(200, status);
        Assert.Equal(("mlp", "onnxruntime_onnx", "onnxruntime"), ((string?)config!["name"], (string?)config["platform"], (string?)config["backend"]));
        Assert.Equal(8, (int)config["max_batch_size"]!);
        JsonNode input = config["input"]![0]!;
        Assert.Equal(("input", "TYPE_FP32", "[4]"), ((string?)input["name"], (string?)input["data_type"], input["dims"]!.ToJsonString()));
        Assert.Equal("labels.txt", (string?)config["output"]![0]!["label_filename"]);
        Assert.Equal(("KIND_CPU", 2), ((string?)config["instance_group"]![0]!["kind"], (int)config["instance_group"]![0]!["count"]!));

        var (reload, _) = await _server.PostAsync("/v2/repository/models/mlp/load",
            new JsonObject { ["parameters"] = new JsonObject { ["config"] = config.ToJsonString() } }.ToJsonString());
        Assert.Equal(200, reload);
        Assert.Equal(200, (await _server.PostAsync("/v2/models/mlp/infer", MlpRow)).Status);
    }

    [Theory]
    [InlineData("/v2/models/nope/config", 404)]
    [InlineData("/v2/models/corrupt/config", 503)]
    public async Task Config_OfAModelThatDoesNotServe_IsAnError(string path, int status)
    {
        Assert.Equal(status, (await _server.GetAsync(path)).Status);
    }

    [Fact]
    public async Task Grpc_RepositoryAndConfigRpcs()
    {
        using var grpc = new GrpcTestClient(_server.Server.GrpcAddress);

        var (index, _) = await grpc.UnaryAsync("RepositoryIndex", new RepositoryIndexRequest { Ready = true }, RepositoryIndexResponse.Parser);
        Assert.Contains(index.Models, m => m.Name == "strings" && m.State == "READY");
        Assert.DoesNotContain(index.Models, m => m.Name == "corrupt");

        var (config, _) = await grpc.UnaryAsync("ModelConfig", new ModelConfigRequest { Name = "mlp" }, ModelConfigResponse.Parser);
        Assert.Equal(8, config.Config.MaxBatchSize);
        Assert.Equal(Quiver.Server.Grpc.Proto.DataType.TypeFp32, config.Config.Input[0].DataType);
        Assert.Equal([4L], config.Config.Input[0].Dims);

        var (_, unload) = await grpc.UnaryAsync("RepositoryModelUnload", new RepositoryModelUnloadRequest { ModelName = "identity_int8" }, RepositoryModelUnloadResponse.Parser);
        Assert.Equal(0, unload.Status);
        var (ready, _) = await grpc.UnaryAsync("ModelReady", new ModelReadyRequest { Name = "identity_int8" }, ModelReadyResponse.Parser);
        Assert.False(ready.Ready);

        var (_, load) = await grpc.UnaryAsync("RepositoryModelLoad", new RepositoryModelLoadRequest { ModelName = "identity_int8" }, RepositoryModelLoadResponse.Parser);
        Assert.Equal(0, load.Status);
        (ready, _) = await grpc.UnaryAsync("ModelReady", new ModelReadyRequest { Name = "identity_int8" }, ModelReadyResponse.Parser);
        Assert.True(ready.Ready);

        var (_, missing) = await grpc.UnaryAsync("RepositoryModelLoad", new RepositoryModelLoadRequest { ModelName = "nope" }, RepositoryModelLoadResponse.Parser);
        Assert.Equal(5, missing.Status);
    }

    [Fact]
    public async Task ReloadUnderLoad_NeverAnswers500()
    {
        string body = """{"inputs":[{"name":"input","shape":[1,3],"datatype":"INT32","data":[1,2,3]}]}""";
        using var stop = new CancellationTokenSource();
        var statuses = new System.Collections.Concurrent.ConcurrentBag<int>();
        Task load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                statuses.Add((await _server.PostAsync("/v2/models/identity_int32/infer", body)).Status);
            }
        });

        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/identity_int32/load", "")).Status);
        }

        await stop.CancelAsync();
        await load;
        Assert.NotEmpty(statuses);
        Assert.All(statuses, s => Assert.True(s is 200 or 503, $"status {s}"));
    }
}
