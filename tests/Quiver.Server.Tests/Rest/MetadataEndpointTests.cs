using System.Text.Json.Nodes;

namespace Quiver.Server.Tests.Rest;

/// <summary>Health, server and model metadata, readiness — including a model that failed to load.</summary>
public sealed class MetadataEndpointTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly TestServer _server = fixture.Server;

    [Theory]
    [InlineData("/v2/health/live")]
    [InlineData("/v2/health/ready")]
    public async Task Health_Returns200(string path)
    {
        var (status, _) = await _server.GetAsync(path);
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task ServerMetadata_NamesServerVersionAndExtensions()
    {
        var (status, body) = await _server.GetAsync("/v2");

        Assert.Equal(200, status);
        Assert.Equal("quiver", (string?)body!["name"]);
        Assert.False(string.IsNullOrEmpty((string?)body["version"]));
        Assert.Contains("classification", body["extensions"]!.AsArray().Select(e => (string?)e));
    }

    [Fact]
    public async Task ModelMetadata_ListsReadyVersionsAndSignature()
    {
        var (status, body) = await _server.GetAsync("/v2/models/mlp_versions");

        Assert.Equal(200, status);
        Assert.Equal("mlp_versions", (string?)body!["name"]);
        Assert.Equal("onnxruntime_onnx", (string?)body["platform"]);
        Assert.Equal("""["1","2"]""", body["versions"]!.ToJsonString());
        JsonNode input = body["inputs"]![0]!;
        Assert.Equal("input", (string?)input["name"]);
        Assert.Equal("FP32", (string?)input["datatype"]);
        Assert.Equal("[-1,4]", input["shape"]!.ToJsonString());
        Assert.Equal("logits", (string?)body["outputs"]![0]!["name"]);
    }

    [Fact]
    public async Task ModelVersionMetadata_DescribesThatVersion()
    {
        var (status, body) = await _server.GetAsync("/v2/models/mlp/versions/1");

        Assert.Equal(200, status);
        Assert.Equal("""["1"]""", body!["versions"]!.ToJsonString());
        Assert.Equal("probabilities", (string?)body["outputs"]![0]!["name"]);
        Assert.Equal("[-1,2]", body["outputs"]![0]!["shape"]!.ToJsonString());
    }

    [Theory]
    [InlineData("/v2/models/mlp/ready")]
    [InlineData("/v2/models/mlp/versions/1/ready")]
    [InlineData("/v2/models/strings/versions/1/ready")]
    public async Task ModelReady_ReadyModel_Returns200(string path)
    {
        var (status, _) = await _server.GetAsync(path);
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task CorruptModel_IsNotReady_WithTheOnnxRuntimeError_AndOthersKeepServing()
    {
        var (readyStatus, readyBody) = await _server.GetAsync("/v2/models/corrupt/versions/1/ready");
        Assert.Equal(400, readyStatus);
        Assert.Contains("not ready", (string?)readyBody!["error"]);
        Assert.Contains("is not a valid ONNX model", (string?)readyBody["error"], StringComparison.OrdinalIgnoreCase);

        var (inferStatus, inferBody) = await _server.PostAsync("/v2/models/corrupt/infer",
            """{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}""");
        Assert.Equal(503, inferStatus);
        Assert.Contains("corrupt", (string?)inferBody!["error"]);

        var (healthStatus, _) = await _server.GetAsync("/v2/health/ready");
        Assert.Equal(200, healthStatus);
        var (otherStatus, _) = await _server.PostAsync("/v2/models/strings/infer",
            """{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["still here"]}]}""");
        Assert.Equal(200, otherStatus);
    }

    [Fact]
    public async Task BadConfig_ModelIsNotReady_AndTheReasonListsEveryProblem()
    {
        var (status, body) = await _server.GetAsync("/v2/models/bad_config/ready");

        Assert.Equal(400, status);
        string error = (string)body!["error"]!;
        Assert.Contains("max_batch_size", error);
        Assert.Contains("unknown setting 'instanse_count'", error);
    }

    [Theory]
    [InlineData("/v2/models/nope")]
    [InlineData("/v2/models/nope/ready")]
    [InlineData("/v2/models/mlp/versions/9")]
    [InlineData("/v2/models/mlp/versions/9/ready")]
    [InlineData("/v2/models/mlp/versions/latest")]
    [InlineData("/v2/not-an-endpoint")]
    public async Task UnknownModelVersionOrPath_Returns404WithErrorJson(string path)
    {
        var (status, body) = await _server.GetAsync(path);

        Assert.Equal(404, status);
        Assert.False(string.IsNullOrEmpty((string?)body!["error"]));
    }
}
