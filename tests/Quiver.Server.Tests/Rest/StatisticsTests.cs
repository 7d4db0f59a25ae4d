using System.Text.Json.Nodes;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Rest;

/// <summary>The statistics extension over REST and gRPC, on a server of its own so the counts are exact.</summary>
public sealed class StatisticsTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly TestServer _server = fixture.Server;

    private static string Rows(int rows) =>
        $$"""{"inputs":[{"name":"input","shape":[{{rows}},4],"datatype":"FP32","data":[{{string.Join(",", Enumerable.Repeat("1", rows * 4))}}]}]}""";

    [Fact]
    public async Task Stats_CountSuccessesFailuresInferencesAndBatchSizes_OverRestAndGrpc()
    {
        foreach (int rows in new[] { 2, 1, 2 })
        {
            Assert.Equal(200, (await _server.PostAsync("/v2/models/mlp/versions/1/infer", Rows(rows))).Status);
        }

        Assert.Equal(400, (await _server.PostAsync("/v2/models/mlp/versions/1/infer",
            """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""")).Status);

        var (status, body) = await _server.GetAsync("/v2/models/mlp/versions/1/stats");

        Assert.Equal(200, status);
        JsonNode stats = Assert.Single(body!["model_stats"]!.AsArray())!;
        Assert.Equal(("mlp", "1"), ((string?)stats["name"], (string?)stats["version"]));
        Assert.Equal(5, (long)stats["inference_count"]!);
        Assert.Equal(3, (long)stats["execution_count"]!);
        Assert.True((long)stats["last_inference"]! > 1_700_000_000_000);
        JsonNode inference = stats["inference_stats"]!;
        Assert.Equal(3, (long)inference["success"]!["count"]!);
        Assert.Equal(1, (long)inference["fail"]!["count"]!);
        foreach (string part in new[] { "success", "queue", "compute_input", "compute_infer", "compute_output" })
        {
            Assert.True((long)inference[part]!["ns"]! > 0, part);
        }

        Assert.Equal(3, (long)inference["compute_infer"]!["count"]!);
        var batches = stats["batch_stats"]!.AsArray().ToDictionary(b => (long)b!["batch_size"]!, b => (long)b!["compute_infer"]!["count"]!);
        Assert.Equal(new Dictionary<long, long> { [1] = 1, [2] = 2 }, batches);

        using var grpc = new GrpcTestClient(_server.Server.GrpcAddress);
        var (response, _) = await grpc.UnaryAsync("ModelStatistics", new ModelStatisticsRequest { Name = "mlp", Version = "1" }, ModelStatisticsResponse.Parser);
        Quiver.Server.Grpc.Proto.ModelStatistics grpcStats = Assert.Single(response.ModelStats);
        Assert.Equal(5ul, grpcStats.InferenceCount);
        Assert.Equal(3ul, grpcStats.InferenceStats.Success.Count);
        Assert.Equal(1ul, grpcStats.InferenceStats.Fail.Count);
        Assert.Equal([1ul, 2ul], grpcStats.BatchStats.Select(b => b.BatchSize));
    }

    [Fact]
    public async Task Stats_WithoutAModel_ListEveryReadyVersion()
    {
        var (status, body) = await _server.GetAsync("/v2/models/stats");

        Assert.Equal(200, status);
        var names = body!["model_stats"]!.AsArray().Select(s => $"{s!["name"]}/{s["version"]}").ToArray();
        Assert.Contains("mlp_versions/1", names);
        Assert.Contains("mlp_versions/2", names);
        Assert.DoesNotContain(names, n => n.StartsWith("corrupt", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/v2/models/nope/stats")]
    [InlineData("/v2/models/mlp/versions/9/stats")]
    public async Task Stats_UnknownModelOrVersion_Returns404(string path)
    {
        var (status, body) = await _server.GetAsync(path);

        Assert.Equal(404, status);
        Assert.NotNull(body!["error"]);
    }

    [Fact]
    public async Task GrpcStats_UnknownModel_IsNotFound()
    {
        using var grpc = new GrpcTestClient(_server.Server.GrpcAddress);

        var (_, result) = await grpc.UnaryAsync("ModelStatistics", new ModelStatisticsRequest { Name = "nope" }, ModelStatisticsResponse.Parser);

        Assert.Equal(5, result.Status);
    }
}
