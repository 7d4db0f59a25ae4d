using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// Hostile requests against a real server on loopback: header floods, deep and huge JSON, body floods, slow clients and
/// a model's tensor element cap, over REST and gRPC. Each gets its status and a message naming the limit, and the
/// server goes on serving.
/// </summary>
public sealed class InputHardeningTests : IAsyncLifetime
{
    private const string Ok = """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""";

    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-hardening-").FullName;
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        foreach (string model in new[] { "identity", "capped" })
        {
            string dir = Path.Combine(_repository, model, "1");
            Directory.CreateDirectory(dir);
            SampleModels.Identity(TensorElementType.Float, Dim.Named("batch"), Dim.Of(3)).Save(Path.Combine(dir, "model.onnx"));
        }

        File.WriteAllText(Path.Combine(_repository, "identity", "config.json"), """{"max_batch_size": 0}""");
        File.WriteAllText(Path.Combine(_repository, "capped", "config.json"), """{"max_tensor_elements": 6}""");
        _server = await TestServer.StartAsync(_repository, o => o with
        {
            MaxRequestBodyBytes = 64 * 1024, MaxJsonElements = 1000, RequestHeadersTimeout = TimeSpan.FromSeconds(1),
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    private async Task AssertStillServesAsync() =>
        Assert.Equal(200, (await _server.PostAsync("/v2/models/identity/infer", Ok)).Status);

    [Fact]
    public async Task TooManyHeaders_Get431_AndTheServerCarriesOn()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2/health/ready");
        for (int i = 0; i < 150; i++)
        {
            request.Headers.TryAddWithoutValidation($"X-Flood-{i}", "x");
        }

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        Assert.Equal(431, (int)response.StatusCode);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task HugeHeaders_Get431_AndTheServerCarriesOn()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2/health/ready");
        request.Headers.TryAddWithoutValidation("X-Flood", new string('x', 40 * 1024));

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        Assert.Equal(431, (int)response.StatusCode);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task DeepJson_Gets400_NamingTheDepthLimit_InDataAndAnywhereElse()
    {
        string deepData = $$"""{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":{{new string('[', 40)}}1{{new string(']', 40)}}}]}""";
        string deepExtra = $$"""{"extension":{{new string('[', 5000)}}{{new string(']', 5000)}},"inputs":[]}""";

        foreach (string body in new[] { deepData, deepExtra })
        {
            var (status, error) = await _server.PostAsync("/v2/models/identity/infer", body);
            Assert.Equal(400, status);
            Assert.Equal("the request nests objects and arrays deeper than the limit of 32 levels (--max-json-depth)", (string?)error!["error"]);
        }

        await AssertStillServesAsync();
    }

    [Fact]
    public async Task TooManyJsonElements_Get400_NamingTheElementLimit()
    {
        string many = $$"""{"inputs":[{"name":"input","shape":[400,3],"datatype":"FP32","data":[{{string.Join(",", Enumerable.Repeat("1", 1200))}}]}]}""";

        var (status, error) = await _server.PostAsync("/v2/models/identity/infer", many);

        Assert.Equal(400, status);
        Assert.Contains("beyond the 1000 JSON elements a request may carry (--max-json-elements)", (string?)error!["error"]);
    }

    [Fact]
    public async Task ElementsBeyondTheShape_StillCountAgainstTheLimit()
    {
        string extra = $$"""{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[{{string.Join(",", Enumerable.Repeat("1", 1200))}}]}]}""";

        var (status, error) = await _server.PostAsync("/v2/models/identity/infer", extra);

        Assert.Equal(400, status);
        Assert.Contains("more than 1000 JSON elements", (string?)error!["error"]);
    }

    [Fact]
    public async Task ManyInputsDeclaringHugeShapes_AreRefused_BeforeAnythingIsAllocatedForThem()
    {
        // Each input claims a billion elements with no data: without the limit each would reserve room for its claim.
        string inputs = string.Join(",", Enumerable.Range(0, 200).Select(i => $$"""{"name":"in{{i}}","shape":[1000000000],"datatype":"FP64","data":[]}"""));

        var (status, error) = await _server.PostAsync("/v2/models/identity/infer", $$"""{"inputs":[{{inputs}}]}""");

        Assert.Equal(400, status);
        Assert.Equal("input 'in0' has shape [1000000000] of 1000000000 elements, beyond the 1000 JSON elements a request may carry " +
            "(--max-json-elements); send large tensors with the binary tensor data extension", (string?)error!["error"]);
    }

    [Fact]
    public async Task BodyFlood_Gets413_WithOrWithoutAContentLength()
    {
        string big = $$"""{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}],"padding":"{{new string('x', 100 * 1024)}}"}""";
        var (declared, error) = await _server.PostAsync("/v2/models/identity/infer", big);
        Assert.Equal(413, declared);
        Assert.Contains("exceeds the limit of 65536 bytes (set with --max-request-bytes)", (string?)error!["error"]);

        // Chunked, so the server learns the size only while reading; it answers 413 and closes once past the limit.
        using var client = new TcpClient();
        await client.ConnectAsync(_server.Server.HttpAddress.Host, _server.Server.HttpAddress.Port);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync("POST /v2/models/identity/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray());
        try
        {
            byte[] chunk = Encoding.ASCII.GetBytes($"4000\r\n{new string(' ', 0x4000)}\r\n");
            for (int i = 0; i < 8; i++)
            {
                await stream.WriteAsync(chunk);
            }
        }
        catch (IOException)
        {
            // The server stopped reading and closed: the answer is already on its way.
        }

        string answer = await ReadToEndAsync(stream, TimeSpan.FromSeconds(60));
        Assert.StartsWith("HTTP/1.1 413", answer);
        Assert.Contains("65536 bytes", answer); // Kestrel's own message for a chunked body: "Request body too large. The max request body size is 65536 bytes."
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task GrpcMessageFlood_GetsResourceExhausted()
    {
        using var grpc = new GrpcTestClient(_server.Server.GrpcAddress);
        var request = new ModelInferRequest { ModelName = "identity" };
        var input = new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Shape = { 1, 3 } };
        request.Inputs.Add(input);
        request.RawInputContents.Add(ByteString.CopyFrom(new byte[100 * 1024]));

        GrpcResult result = await grpc.CallAsync("ModelInfer", GrpcTestClient.Frame(request));

        Assert.Equal(8, result.Status);
        Assert.Contains("more than the server's limit of 65536 bytes", result.GrpcMessage);
    }

    [Fact]
    public async Task ModelElementCap_Gets400OverRest_AndInvalidArgumentOverGrpc()
    {
        Assert.Equal(200, (await _server.PostAsync("/v2/models/capped/infer",
            """{"inputs":[{"name":"input","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5,6]}]}""")).Status);
        var (status, error) = await _server.PostAsync("/v2/models/capped/infer",
            """{"inputs":[{"name":"input","shape":[3,3],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9]}]}""");
        Assert.Equal(400, status);
        Assert.Equal("the request has 9 tensor elements over its inputs, more than model 'capped' accepts per request " +
            "(max_tensor_elements 6 in its config.json); send fewer rows per request", (string?)error!["error"]);

        using var grpc = new GrpcTestClient(_server.Server.GrpcAddress);
        var request = new ModelInferRequest { ModelName = "capped" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Shape = { 3, 3 } });
        request.RawInputContents.Add(ByteString.CopyFrom(new byte[9 * 4]));
        var (_, result) = await grpc.UnaryAsync("ModelInfer", request, ModelInferResponse.Parser);
        Assert.Equal(3, result.Status);
        Assert.Contains("max_tensor_elements 6", result.GrpcMessage);
    }

    [Fact]
    public async Task SlowHeaders_AreCutOffAfterTheHeadersTimeout_AndTheServerCarriesOn()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_server.Server.HttpAddress.Host, _server.Server.HttpAddress.Port);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync("POST /v2/models/identity/infer HTTP/1.1\r\nHost: localhost\r\n"u8.ToArray());

        // The rest of the headers never come: within the 1 s timeout (plus Kestrel's 1 s heartbeat) the server gives up.
        string answer = await ReadToEndAsync(stream, TimeSpan.FromSeconds(60));

        Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), answer);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task SlowBody_IsCutOffBelowTheMinimumDataRate()
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_server.Server.HttpAddress.Host, _server.Server.HttpAddress.Port);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync("POST /v2/models/identity/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n"u8.ToArray());

        // One byte a second, far below 240 bytes/s: after the 5 s grace Kestrel stops reading and answers 408.
        var trickle = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; i < 60 && client.Connected; i++)
                {
                    await stream.WriteAsync(" "u8.ToArray());
                    await Task.Delay(1000);
                }
            }
            catch (IOException)
            {
                // The server closed the connection, as it should.
            }
        });
        string answer = await ReadToEndAsync(stream, TimeSpan.FromSeconds(90));

        Assert.StartsWith("HTTP/1.1 408", answer);
        client.Close();
        await trickle;
        await AssertStillServesAsync();
    }

    private static async Task<string> ReadToEndAsync(NetworkStream stream, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var text = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancel.Token)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (IOException)
        {
            // A reset is a close too.
        }

        Assert.False(cancel.IsCancellationRequested, $"the server kept the connection open for {timeout.TotalSeconds} s: {text}");
        return text.ToString();
    }
}
