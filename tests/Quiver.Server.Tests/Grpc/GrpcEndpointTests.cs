using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Google.Protobuf;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Rest;

namespace Quiver.Server.Tests.Grpc;

/// <summary>inference.GRPCInferenceService over real HTTP/2 on loopback, frames built by hand.</summary>
public sealed class GrpcEndpointTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>, IDisposable
{
    private readonly GrpcTestClient _client = new(fixture.Server.Server.GrpcAddress);

    public void Dispose() => _client.Dispose();

    private static ModelInferRequest MlpRequest(float[] row, string version = "1")
    {
        var request = new ModelInferRequest { ModelName = "mlp", ModelVersion = version, Id = "g-1" };
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Contents = new InferTensorContents() };
        input.Shape.AddRange([1, 4]);
        input.Contents.Fp32Contents.AddRange(row);
        request.Inputs.Add(input);
        return request;
    }

    private static ModelInferRequest.Types.InferInputTensor RawInput(string name, string datatype, params long[] shape)
    {
        var input = new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = datatype };
        input.Shape.AddRange(shape);
        return input;
    }

    [Fact]
    public async Task ServerLiveReadyAndMetadata_Answer()
    {
        var (live, _) = await _client.UnaryAsync("ServerLive", new ServerLiveRequest(), ServerLiveResponse.Parser);
        var (ready, _) = await _client.UnaryAsync("ServerReady", new ServerReadyRequest(), ServerReadyResponse.Parser);
        var (metadata, result) = await _client.UnaryAsync("ServerMetadata", new ServerMetadataRequest(), ServerMetadataResponse.Parser);

        Assert.True(live.Live);
        Assert.True(ready.Ready);
        Assert.Equal("quiver", metadata.Name);
        Assert.Contains("classification", metadata.Extensions);
        Assert.Equal((200, 0, "application/grpc"), (result.HttpStatus, result.Status, result.ContentType));
    }

    [Fact]
    public async Task ModelReady_ReadyFailedAndUnknown()
    {
        var (mlp, _) = await _client.UnaryAsync("ModelReady", new ModelReadyRequest { Name = "mlp" }, ModelReadyResponse.Parser);
        var (corrupt, _) = await _client.UnaryAsync("ModelReady", new ModelReadyRequest { Name = "corrupt" }, ModelReadyResponse.Parser);
        var (_, unknown) = await _client.UnaryAsync("ModelReady", new ModelReadyRequest { Name = "nope" }, ModelReadyResponse.Parser);

        Assert.True(mlp.Ready);
        Assert.False(corrupt.Ready);
        Assert.Equal(5, unknown.Status); // NOT_FOUND
    }

    [Fact]
    public async Task ModelMetadata_DescribesTheSignature()
    {
        var (metadata, _) = await _client.UnaryAsync("ModelMetadata", new ModelMetadataRequest { Name = "mlp_versions" }, ModelMetadataResponse.Parser);

        Assert.Equal(["1", "2"], metadata.Versions);
        Assert.Equal("onnxruntime_onnx", metadata.Platform);
        Assert.Equal(("input", "FP32"), (metadata.Inputs[0].Name, metadata.Inputs[0].Datatype));
        Assert.Equal([-1L, 4L], metadata.Inputs[0].Shape);
        Assert.Equal("logits", metadata.Outputs[0].Name);
    }

    [Fact]
    public async Task ModelInfer_TypedContents_MatchMatrixMath()
    {
        float[] row = [5.1f, 3.5f, 1.4f, 0.2f];

        var (response, result) = await _client.UnaryAsync("ModelInfer", MlpRequest(row), ModelInferResponse.Parser);

        Assert.Equal(0, result.Status);
        Assert.Equal(("mlp", "1", "g-1"), (response.ModelName, response.ModelVersion, response.Id));
        Assert.Equal("probabilities", response.Outputs[0].Name);
        Assert.Equal([1L, 2L], response.Outputs[0].Shape);
        float[] actual = new float[2];
        Buffer.BlockCopy(response.RawOutputContents[0].ToByteArray(), 0, actual, 0, 8);
        float[] expected = InferenceEndpointTests.Softmax(InferenceEndpointTests.Mlp(row));
        Assert.Equal(expected[0], actual[0], 5);
        Assert.Equal(expected[1], actual[1], 5);
    }

    [Fact]
    public async Task ModelInfer_RawContents_Int64BoolAndOutputSelection()
    {
        var request = new ModelInferRequest { ModelName = "multi_io" };
        request.Inputs.Add(RawInput("a", "INT64", 1, 3));
        request.Inputs.Add(RawInput("b", "INT64", 1, 3));
        request.Inputs.Add(RawInput("flag", "BOOL", 1, 3));
        request.RawInputContents.Add(ByteString.CopyFrom(Longs(1, 2, 3)));
        request.RawInputContents.Add(ByteString.CopyFrom(Longs(10, -20, 30)));
        request.RawInputContents.Add(ByteString.CopyFrom(1, 0, 1));
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "selected" });
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "sum" });

        var (response, _) = await _client.UnaryAsync("ModelInfer", request, ModelInferResponse.Parser);

        Assert.Equal(["selected", "sum"], response.Outputs.Select(o => o.Name));
        Assert.Equal(Longs(1, -20, 3), response.RawOutputContents[0].ToByteArray());
        Assert.Equal(Longs(11, -18, 33), response.RawOutputContents[1].ToByteArray());
    }

    [Fact]
    public async Task ModelInfer_RawBytes_AreLengthPrefixedBothWays()
    {
        var request = new ModelInferRequest { ModelName = "strings" };
        request.Inputs.Add(RawInput("text", "BYTES", 2));
        request.RawInputContents.Add(ByteString.CopyFrom(LengthPrefixed("héllo", "")));

        var (response, _) = await _client.UnaryAsync("ModelInfer", request, ModelInferResponse.Parser);

        Assert.Equal("BYTES", response.Outputs[0].Datatype);
        Assert.Equal(LengthPrefixed("héllo", ""), response.RawOutputContents[0].ToByteArray());
    }

    [Fact]
    public async Task ModelInfer_Fp16Raw_ComputesInHalfPrecision()
    {
        Half[] x = [(Half)0.5f, (Half)(-2f), (Half)3.25f, (Half)100.125f];
        var request = new ModelInferRequest { ModelName = "fp16" };
        request.Inputs.Add(RawInput("input", "FP16", 1, 4));
        request.RawInputContents.Add(ByteString.CopyFrom(x.SelectMany(h => BitConverter.GetBytes(h)).ToArray()));

        var (response, _) = await _client.UnaryAsync("ModelInfer", request, ModelInferResponse.Parser);

        byte[] raw = response.RawOutputContents[0].ToByteArray();
        for (int i = 0; i < x.Length; i++)
        {
            Half expected = (Half)((x[i] * ModelRepositoryFixture.Fp16Scale[i]) + ModelRepositoryFixture.Fp16Bias[i]);
            Assert.Equal(expected, BitConverter.ToHalf(raw, i * 2));
        }
    }

    [Fact]
    public async Task ModelInfer_GzipRequest_IsDecompressedAndAnsweredInGzip()
    {
        byte[] payload = MlpRequest([1f, 2f, 3f, 4f]).ToByteArray();
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(payload);
        }

        GrpcResult result = await _client.CallAsync("ModelInfer", GrpcTestClient.Frame(compressed.ToArray(), compressed: true),
            new Dictionary<string, string> { ["grpc-encoding"] = "gzip" });

        Assert.Equal(0, result.Status);
        using var unzip = new GZipStream(new MemoryStream(result.Messages[0]), CompressionMode.Decompress);
        Assert.Equal("mlp", ModelInferResponse.Parser.ParseFrom(unzip).ModelName);
    }

    public static TheoryData<string, string[]> BadInferRequests => new()
    {
        { "unknown_model", ["5", "nope"] },
        { "wrong_raw_size", ["3", "'input'", "12 bytes", "16"] },
        { "bytes_prefix_beyond_buffer", ["3", "'text'", "length prefix 100"] },
        { "raw_count_mismatch", ["3", "raw_input_contents has 2 entries"] },
        { "typed_count_mismatch", ["3", "'input'", "3 elements", "needs 4"] },
        { "unknown_datatype", ["3", "'input'", "FLOAT"] },
        { "uint8_out_of_range", ["3", "'input'", "300", "UINT8"] },
        { "shape_mismatch", ["3", "'input'", "[-1,4]"] },
        { "fp16_typed", ["3", "raw_input_contents"] },
    };

    [Theory]
    [MemberData(nameof(BadInferRequests))]
    public async Task ModelInfer_BadRequest_GetsTheMatchingStatusNamingTheInput(string problem, string[] expected)
    {
        ModelInferRequest request = problem switch
        {
            "unknown_model" => new ModelInferRequest { ModelName = "nope" },
            "wrong_raw_size" => Raw("mlp", RawInput("input", "FP32", 1, 4), new byte[12]),
            "bytes_prefix_beyond_buffer" => Raw("strings", RawInput("text", "BYTES", 1), [100, 0, 0, 0, (byte)'a']),
            "raw_count_mismatch" => RawTwice(),
            "typed_count_mismatch" => MlpRequest([1, 2, 3, 4]).Also(r => r.Inputs[0].Contents.Fp32Contents.RemoveAt(3)),
            "unknown_datatype" => MlpRequest([1, 2, 3, 4]).Also(r => r.Inputs[0].Datatype = "FLOAT"),
            "uint8_out_of_range" => Typed("identity_uint8", "UINT8", c => c.UintContents.AddRange([1, 300, 2])),
            "shape_mismatch" => Raw("mlp", RawInput("input", "FP32", 1, 5), new byte[20]),
            "fp16_typed" => Typed("identity_float16", "FP16", c => c.Fp32Contents.AddRange([1, 2, 3])),
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        var (_, result) = await _client.UnaryAsync("ModelInfer", request, ModelInferResponse.Parser);

        Assert.Equal(200, result.HttpStatus);
        Assert.Equal(expected[0], result.GrpcStatus);
        foreach (string text in expected.Skip(1))
        {
            Assert.Contains(text, result.GrpcMessage);
        }

        // The connection stays healthy for the next call.
        var (after, _) = await _client.UnaryAsync("ModelInfer", MlpRequest([1, 2, 3, 4]), ModelInferResponse.Parser);
        Assert.Equal("mlp", after.ModelName);
    }

    public static TheoryData<string, int, string> BadFrames => new()
    {
        { "truncated", 3, "only 2 followed" },
        { "header_cut", 3, "frame header" },
        { "over_limit", 8, "limit" },
        { "compressed_without_encoding", 3, "grpc-encoding" },
        { "garbage_protobuf", 3, "ModelInferRequest" },
        { "empty", 3, "none" },
        { "bad_flag", 3, "compressed flag" },
    };

    [Theory]
    [MemberData(nameof(BadFrames))]
    public async Task ModelInfer_BrokenFraming_GetsAStatusAndTheConnectionSurvives(string problem, int status, string message)
    {
        byte[] body = problem switch
        {
            "truncated" => GrpcTestClient.Frame([1, 2], declaredLength: 10),
            "header_cut" => [0, 0, 0],
            "over_limit" => GrpcTestClient.Frame([1], declaredLength: 10_000_000),
            "compressed_without_encoding" => GrpcTestClient.Frame(MlpRequest([1, 2, 3, 4]).ToByteArray(), compressed: true),
            "garbage_protobuf" => GrpcTestClient.Frame([0xff, 0xff, 0xff, 0xff, 0x0f]),
            "empty" => [],
            "bad_flag" => [7, 0, 0, 0, 0],
            _ => throw new ArgumentOutOfRangeException(nameof(problem)),
        };

        GrpcResult result = await _client.CallAsync("ModelInfer", body);

        Assert.Equal(status, result.Status);
        Assert.Contains(message, result.GrpcMessage);
        var (after, _) = await _client.UnaryAsync("ServerLive", new ServerLiveRequest(), ServerLiveResponse.Parser);
        Assert.True(after.Live);
    }

    [Theory]
    [InlineData("snappy", 12)]
    public async Task UnsupportedEncoding_IsUnimplemented(string encoding, int status)
    {
        GrpcResult result = await _client.CallAsync("ServerLive", GrpcTestClient.Frame(new ServerLiveRequest()),
            new Dictionary<string, string> { ["grpc-encoding"] = encoding });

        Assert.Equal(status, result.Status);
        Assert.Contains(encoding, result.GrpcMessage);
    }

    [Fact]
    public async Task UnknownMethod_IsUnimplemented()
    {
        GrpcResult result = await _client.CallAsync("SystemSharedMemoryStatus", GrpcTestClient.Frame([]));

        Assert.Equal(12, result.Status);
    }

    [Theory]
    [InlineData("10x")]
    [InlineData("123456789S")]
    [InlineData("S")]
    public async Task MalformedTimeout_IsInvalidArgument(string timeout)
    {
        GrpcResult result = await _client.CallAsync("ServerLive", GrpcTestClient.Frame(new ServerLiveRequest()),
            new Dictionary<string, string> { ["grpc-timeout"] = timeout });

        Assert.Equal(3, result.Status);
        Assert.Contains("grpc-timeout", result.GrpcMessage);
    }

    [Fact]
    public async Task Deadline_PassedWhileTheModelRuns_IsDeadlineExceeded()
    {
        var request = new ModelInferRequest { ModelName = "slow" };
        request.Inputs.Add(RawInput("x", "FP32", 1));
        request.RawInputContents.Add(ByteString.CopyFrom(BitConverter.GetBytes(1f)));

        GrpcResult result = await _client.CallAsync("ModelInfer", GrpcTestClient.Frame(request),
            new Dictionary<string, string> { ["grpc-timeout"] = "200m" });

        Assert.Equal(4, result.Status);
        Assert.Contains("deadline", result.GrpcMessage);
    }

    [Fact]
    public async Task FullQueue_IsResourceExhausted_NamingTheLimit()
    {
        // "slow" has one instance and max_queue_size 1: of three overlapping calls, at most two are taken.
        var request = new ModelInferRequest { ModelName = "slow" };
        request.Inputs.Add(RawInput("x", "FP32", 1));
        request.RawInputContents.Add(ByteString.CopyFrom(BitConverter.GetBytes(1f)));
        var deadline = new Dictionary<string, string> { ["grpc-timeout"] = "5S" };

        GrpcResult[] results = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => _client.CallAsync("ModelInfer", GrpcTestClient.Frame(request), deadline)));

        // Two may be refused when both arrive before the instance takes the first from the queue.
        GrpcResult[] refused = results.Where(r => r.Status == 8).ToArray();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.Contains("max_queue_size", r.GrpcMessage));
    }

    [Fact]
    public async Task ModelStreamInfer_AnswersEveryRequestMatchedById_IncludingFailures()
    {
        var bad = new ModelInferRequest { ModelName = "nope", Id = "s-bad" };
        byte[] body = [
            .. GrpcTestClient.Frame(MlpRequest([1, 2, 3, 4]).Also(r => r.Id = "s-1")),
            .. GrpcTestClient.Frame(bad),
            .. GrpcTestClient.Frame(MlpRequest([4, 3, 2, 1]).Also(r => r.Id = "s-2")),
        ];

        GrpcResult result = await _client.CallAsync("ModelStreamInfer", body);

        Assert.Equal(0, result.Status);
        var responses = result.Messages.Select(m => ModelStreamInferResponse.Parser.ParseFrom(m)).ToDictionary(r => r.InferResponse.Id);
        Assert.Equal(["s-1", "s-2", "s-bad"], responses.Keys.Order());
        Assert.Equal("", responses["s-1"].ErrorMessage);
        Assert.Equal("probabilities", responses["s-2"].InferResponse.Outputs[0].Name);
        Assert.Contains("nope", responses["s-bad"].ErrorMessage);
    }

    [Fact]
    public async Task ModelStreamInfer_BrokenFrameMidStream_EndsWithAStatusAfterEarlierAnswers()
    {
        byte[] body = [.. GrpcTestClient.Frame(MlpRequest([1, 2, 3, 4]).Also(r => r.Id = "ok")), .. GrpcTestClient.Frame([1], declaredLength: 50)];

        GrpcResult result = await _client.CallAsync("ModelStreamInfer", body);

        Assert.Equal(3, result.Status);
        Assert.Equal("ok", ModelStreamInferResponse.Parser.ParseFrom(Assert.Single(result.Messages)).InferResponse.Id);
    }

    [Fact]
    public async Task RestPort_DoesNotServeGrpcContentTypeConfusion()
    {
        using var http = new HttpClient { BaseAddress = fixture.Server.Server.HttpAddress };

        using HttpResponseMessage response = await http.PostAsync("/inference.GRPCInferenceService/ServerLive", new ByteArrayContent([]));

        Assert.Equal(415, (int)response.StatusCode);
    }

    private static ModelInferRequest Raw(string model, ModelInferRequest.Types.InferInputTensor input, byte[] raw)
    {
        var request = new ModelInferRequest { ModelName = model };
        request.Inputs.Add(input);
        request.RawInputContents.Add(ByteString.CopyFrom(raw));
        return request;
    }

    private static ModelInferRequest RawTwice()
    {
        ModelInferRequest request = Raw("mlp", RawInput("input", "FP32", 1, 4), new byte[16]);
        request.RawInputContents.Add(ByteString.CopyFrom(new byte[16]));
        return request;
    }

    private static ModelInferRequest Typed(string model, string datatype, Action<InferTensorContents> fill)
    {
        var request = new ModelInferRequest { ModelName = model };
        var input = RawInput("input", datatype, 1, 3);
        input.Contents = new InferTensorContents();
        fill(input.Contents);
        request.Inputs.Add(input);
        return request;
    }

    private static byte[] Longs(params long[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    private static byte[] LengthPrefixed(params string[] values)
    {
        var bytes = new List<byte>();
        foreach (string value in values)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(value);
            var prefix = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(prefix, (uint)utf8.Length);
            bytes.AddRange(prefix);
            bytes.AddRange(utf8);
        }

        return [.. bytes];
    }
}

internal static class MessageExtensions
{
    /// <summary>Applies a change and returns the message, to tweak a valid request inline.</summary>
    public static T Also<T>(this T message, Action<T> change)
    {
        change(message);
        return message;
    }
}
