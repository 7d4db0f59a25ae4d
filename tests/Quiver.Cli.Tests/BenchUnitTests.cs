using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Quiver.Cli.Bench;
using Quiver.Core.Tensors;
using ModelInferRequest = Quiver.Server.Grpc.Proto.ModelInferRequest;

namespace Quiver.Cli.Tests;

/// <summary>The bench's parsing, statistics and encodings, in-process.</summary>
public sealed class BenchUnitTests
{
    [Theory]
    [InlineData("500ms", 0.5)]
    [InlineData("10s", 10)]
    [InlineData("2m", 120)]
    [InlineData("3", 3)]
    [InlineData("0s", 0)]
    [InlineData("1.5s", 1.5)]
    public void Duration_ParsesUnits(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), ArgumentValues.Duration(text, "--duration"));

    [Theory]
    [InlineData("")]
    [InlineData("-1s")]
    [InlineData("ten")]
    [InlineData("5h")]
    public void Duration_RejectsOtherForms(string text) =>
        Assert.Throws<BenchException>(() => ArgumentValues.Duration(text, "--duration"));

    [Fact]
    public void PositiveIntegers_ParsesAConcurrencySweep()
    {
        Assert.Equal([1, 8, 32, 128], ArgumentValues.PositiveIntegers("1, 8,32,128", "--concurrency"));
        Assert.Throws<BenchException>(() => ArgumentValues.PositiveIntegers("1,,8", "--concurrency"));
        Assert.Throws<BenchException>(() => ArgumentValues.PositiveIntegers("0", "--concurrency"));
    }

    [Fact]
    public void Protocols_ParseTheirNamesOnly()
    {
        Assert.Equal(BenchProtocol.RestBinary, BenchProtocols.Parse("rest-binary"));
        BenchException error = Assert.Throws<BenchException>(() => BenchProtocols.Parse("http"));
        Assert.Contains("rest-json, rest-binary, grpc", error.Message);
    }

    [Fact]
    public void LatencySummary_TakesNearestRankPercentiles()
    {
        long microsecond = Stopwatch.Frequency / 1_000_000;
        long[] ticks = Enumerable.Range(1, 100).Reverse().Select(i => i * microsecond).ToArray();

        LatencySummary summary = LatencySummary.FromTicks(ticks);

        Assert.Equal(50, summary.P50, precision: 6);
        Assert.Equal(90, summary.P90, precision: 6);
        Assert.Equal(99, summary.P99, precision: 6);
        Assert.Equal(100, summary.Max, precision: 6);
        Assert.Equal(50.5, summary.Mean, precision: 6);
        Assert.Equal(LatencySummary.Empty, LatencySummary.FromTicks([]));
    }

    [Fact]
    public void ServerBreakdown_DividesEachPhaseByTheInferences()
    {
        var before = new StatisticsSample(InferenceCount: 10, ExecutionCount: 10, QueueNs: 1_000, ComputeInputNs: 0, ComputeInferNs: 50_000, ComputeOutputNs: 0);
        var after = new StatisticsSample(InferenceCount: 110, ExecutionCount: 35, QueueNs: 201_000, ComputeInputNs: 100_000, ComputeInferNs: 1_050_000, ComputeOutputNs: 50_000);

        ServerBreakdown breakdown = ServerBreakdown.Between(before, after);

        Assert.Equal(100, breakdown.Inferences);
        Assert.Equal(25, breakdown.Executions);
        Assert.Equal(4.0, breakdown.AvgBatchSize);
        Assert.Equal(2.0, breakdown.QueueUs);
        Assert.Equal(1.0, breakdown.ComputeInputUs);
        Assert.Equal(10.0, breakdown.ComputeInferUs);
        Assert.Equal(0.5, breakdown.ComputeOutputUs);
    }

    [Fact]
    public void StatisticsSample_SumsTheVersionsOfAStatsResponse()
    {
        JsonNode version = JsonNode.Parse("""
            {"name":"m","version":"1","inference_count":8,"execution_count":2,"inference_stats":{
              "success":{"count":2,"ns":9},"queue":{"count":2,"ns":100},"compute_input":{"count":2,"ns":10},
              "compute_infer":{"count":2,"ns":1000},"compute_output":{"count":2,"ns":20}}}
            """)!;
        string body = new JsonObject { ["model_stats"] = new JsonArray(version.DeepClone(), version.DeepClone()) }.ToJsonString();

        StatisticsSample sample = StatisticsSample.Parse(System.Text.Json.JsonDocument.Parse(body).RootElement);

        Assert.Equal(new StatisticsSample(16, 4, 200, 20, 2000, 40), sample);
    }

    [Fact]
    public void RestJson_WritesEveryElement()
    {
        InputTensor input = RandomTensorData.Create("input", DataType.Fp32, [2, 3], new Random(1));

        JsonNode body = JsonNode.Parse(RequestEncoding.RestJson([input]))!;

        JsonNode tensor = body["inputs"]![0]!;
        Assert.Equal("input", (string?)tensor["name"]);
        Assert.Equal("FP32", (string?)tensor["datatype"]);
        Assert.Equal("[2,3]", tensor["shape"]!.ToJsonString());
        float[] expected = new float[6];
        Buffer.BlockCopy(input.Raw, 0, expected, 0, input.Raw.Length);
        Assert.Equal(expected, tensor["data"]!.AsArray().Select(x => (float)x!));
    }

    [Fact]
    public void RestBinary_HeaderLengthSplitsJsonFromTheTensorBytes()
    {
        InputTensor numbers = RandomTensorData.Create("a", DataType.Int64, [1, 4], new Random(2));
        InputTensor text = RandomTensorData.Create("b", DataType.Bytes, [1, 2], new Random(3));

        (byte[] body, int headerLength) = RequestEncoding.RestBinary([numbers, text]);

        JsonNode header = JsonNode.Parse(Encoding.UTF8.GetString(body, 0, headerLength))!;
        Assert.Equal(32, (int)header["inputs"]![0]!["parameters"]!["binary_data_size"]!);
        Assert.Equal(2 * (4 + 8), (int)header["inputs"]![1]!["parameters"]!["binary_data_size"]!);
        Assert.True((bool)header["parameters"]!["binary_data_output"]!);
        Assert.Equal(numbers.Raw.Concat(text.Raw), body[headerLength..]);
        Assert.Equal(8, BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan(headerLength + 32)));
    }

    [Fact]
    public void GrpcFrame_IsALengthPrefixedModelInferRequest()
    {
        InputTensor input = RandomTensorData.Create("input", DataType.Fp32, [1, 64], new Random(4));

        byte[] frame = RequestEncoding.GrpcFrame("bench_small", "1", [input]);

        Assert.Equal(0, frame[0]);
        Assert.Equal(frame.Length - 5, (int)BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(1)));
        ModelInferRequest request = ModelInferRequest.Parser.ParseFrom(frame.AsSpan(5));
        Assert.Equal("bench_small", request.ModelName);
        Assert.Equal("1", request.ModelVersion);
        Assert.Equal([1L, 64L], request.Inputs[0].Shape);
        Assert.Equal(input.Raw, request.RawInputContents[0].ToByteArray());
    }

    [Fact]
    public void RandomData_RepeatsForASeed()
    {
        InputTensor first = RandomTensorData.Create("x", DataType.Fp32, [4, 8], new Random(42));
        InputTensor second = RandomTensorData.Create("x", DataType.Fp32, [4, 8], new Random(42));

        Assert.Equal(first.Raw, second.Raw);
        Assert.All(Enumerable.Range(0, 32), i => Assert.InRange(BinaryPrimitives.ReadSingleLittleEndian(first.Raw.AsSpan(i * 4)), 0f, 1f));
    }

    [Fact]
    public void BenchModels_AreTheSameBytesEveryTime()
    {
        foreach (BenchModel model in BenchModels.All)
        {
            Assert.Equal(model.Build().ToBytes(), model.Build().ToBytes());
        }
    }

    [Fact]
    public void InputPlan_BatchIsTheFirstDimensionOfABatchedModel()
    {
        var model = new ServedModelInfo("m", [new ServedInput("input", "FP32", [-1, 64])], MaxBatchSize: 16);

        (IReadOnlyList<InputTensor> inputs, long batch) = InputPlan.Build(model, ["8,64"], dataFile: null, seed: 1);

        Assert.Equal(8, batch);
        Assert.Equal([8L, 64L], inputs[0].Shape);
        Assert.Equal(1, InputPlan.Build(model with { MaxBatchSize = 0 }, ["8,64"], null, 1).BatchSize);
        Assert.Equal([1L, 64L], InputPlan.Build(model, [], null, 1).Inputs[0].Shape);
    }

    [Fact]
    public void InputPlan_NamedShapeMustNameAnInput()
    {
        var model = new ServedModelInfo("m", [new ServedInput("input", "FP32", [-1, 64])], MaxBatchSize: 16);

        BenchException error = Assert.Throws<BenchException>(() => InputPlan.Build(model, ["other:1,64"], null, 1));

        Assert.Contains("has no input 'other'", error.Message);
    }

    [Fact]
    public void GcSample_ReadsTheRuntimeCountersFromAScrape()
    {
        const string scrape = """
            # TYPE dotnet_gc_collections_total counter
            dotnet_gc_collections_total{gc_heap_generation="gen0"} 12
            dotnet_gc_collections_total{gc_heap_generation="gen2"} 3
            dotnet_gc_heap_total_allocated_total 5.2e+06
            nv_inference_count{model="m",version="1"} 7
            """;

        Assert.Equal(new GcSample(5_200_000, 3), GcSample.Parse(scrape));
        Assert.Null(GcSample.Parse("nv_inference_count 7\n"));
        Assert.Equal(new GcReport(1000, 10, 1), GcReport.Between(new GcSample(500, 2), new GcSample(1500, 3), inferences: 100));
    }
}
