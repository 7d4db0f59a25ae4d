using System.Net.Sockets;
using System.Text;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Security;
using Quiver.Server.Tests.Dashboard;
using Quiver.Server.Tests.Grpc;
using Quiver.Server.Tests.Monitoring;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// Rate and concurrency limits through a real server, on a manual clock so no token refills unless a test says so.
/// Until authentication merges every caller is the anonymous principal, so these limits are the anonymous one's.
/// </summary>
public sealed class RequestLimitServerTests : IDisposable
{
    private const string Infer = """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""";

    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-limits-").FullName;
    private readonly ManualClock _clock = new();

    public RequestLimitServerTests()
    {
        string dir = Path.Combine(_repository, "identity", "1");
        Directory.CreateDirectory(dir);
        SampleModels.Identity(TensorElementType.Float, Dim.Named("batch"), Dim.Of(3)).Save(Path.Combine(dir, "model.onnx"));
        File.WriteAllText(Path.Combine(_repository, "identity", "config.json"), """{"max_batch_size": 8}""");
    }

    public void Dispose() => Directory.Delete(_repository, recursive: true);

    private Task<TestServer> StartAsync(LimitSettings principal) =>
        TestServer.StartAsync(_repository, o => o with { Limits = new RequestLimits { Principal = principal }, Clock = _clock, MinRequestBodyBytesPerSecond = 0 });

    [Fact]
    public async Task Rest_OverTheRateLimit_Gets429_WithRetryAfter_AndAMessageNamingTheLimit()
    {
        await using TestServer server = await StartAsync(new LimitSettings(RequestsPerSecond: 0.5, Burst: 2));
        Assert.Equal(200, (await server.PostAsync("/v2/models/identity/infer", Infer)).Status);
        Assert.Equal(200, (await server.PostAsync("/v2/models/identity/infer", Infer)).Status);

        using var content = new StringContent(Infer, Encoding.UTF8, "application/json");
        using HttpResponseMessage refused = await server.Client.PostAsync("/v2/models/identity/infer", content);

        Assert.Equal(429, (int)refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("""{"error":"principal 'anonymous' is over its rate limit of 0.5 requests/s with a burst of 2; retry after 2 s"}""",
            await refused.Content.ReadAsStringAsync());

        // Management calls count too; probes and scrapes do not.
        Assert.Equal(429, (await server.GetAsync("/v2/models/identity")).Status);
        Assert.Equal(200, (await server.GetAsync("/v2/health/ready")).Status);
        PrometheusText metrics = PrometheusText.Parse(await server.Client.GetStringAsync("/metrics"));
        Assert.Equal(2, metrics.Value("quiver_rejected_requests_total", ("model", ""), ("reason", "principal_rate_limit")));

        _clock.Advance(TimeSpan.FromSeconds(2)); // one token at 0.5/s
        Assert.Equal(200, (await server.PostAsync("/v2/models/identity/infer", Infer)).Status);
        Assert.Equal(429, (await server.PostAsync("/v2/models/identity/infer", Infer)).Status);
    }

    [Fact]
    public async Task Grpc_OverTheRateLimit_GetsResourceExhausted_WithTheSameMessage()
    {
        await using TestServer server = await StartAsync(new LimitSettings(RequestsPerSecond: 1, Burst: 1));
        using var grpc = new GrpcTestClient(server.Server.GrpcAddress);
        var request = new ModelMetadataRequest { Name = "identity" };

        var (_, first) = await grpc.UnaryAsync("ModelMetadata", request, ModelMetadataResponse.Parser);
        var (_, second) = await grpc.UnaryAsync("ModelMetadata", request, ModelMetadataResponse.Parser);
        var (_, live) = await grpc.UnaryAsync("ServerLive", new ServerLiveRequest(), ServerLiveResponse.Parser);

        Assert.Equal(0, first.Status);
        Assert.Equal(200, second.HttpStatus);
        Assert.Equal(8, second.Status); // RESOURCE_EXHAUSTED
        Assert.Equal("principal 'anonymous' is over its rate limit of 1 requests/s with a burst of 1; retry after 1 s", second.GrpcMessage);
        Assert.Equal(0, live.Status);
    }

    [Fact]
    public async Task OverTheConcurrencyLimit_Gets429_UntilTheRequestInFlightEnds()
    {
        await using TestServer server = await StartAsync(new LimitSettings(MaxConcurrent: 1));

        // A request held in flight: its body is promised but not yet sent. Should it arrive while one of the probes below
        // is in flight, it is the one refused (an answer comes back at once), and a fresh one takes its place.
        byte[] body = Encoding.UTF8.GetBytes(Infer);
        TcpClient slow = await OpenHeldRequestAsync(server, body);
        (int Status, System.Text.Json.Nodes.JsonNode? Body) refused = (0, null);
        for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline && refused.Status != 429;)
        {
            refused = await server.PostAsync("/v2/models/identity/infer", Infer); // 200 until the server has the held request's headers
            if (refused.Status != 429 && slow.Available > 0)
            {
                slow.Dispose();
                slow = await OpenHeldRequestAsync(server, body);
            }
        }

        using TcpClient held = slow;
        NetworkStream stream = held.GetStream();
        Assert.Equal(429, refused.Status);
        Assert.Equal("principal 'anonymous' is over its concurrency limit of 1 requests in flight at once; retry after 1 s", (string?)refused.Body!["error"]);

        await stream.WriteAsync(body.AsMemory(10));
        string response = await ReadResponseAsync(stream);
        Assert.StartsWith("HTTP/1.1 200", response);

        // The slot frees just after the response is written, so the next request may still find it taken for a moment.
        int status = 0;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline && status != 200;)
        {
            status = (await server.PostAsync("/v2/models/identity/infer", Infer)).Status;
        }

        Assert.Equal(200, status);
    }

    [Fact]
    public async Task LimitsFile_WithMistakes_StopsTheServerWithEveryProblem()
    {
        string file = Path.Combine(_repository, "limits.json");
        File.WriteAllText(file, """{"principal": {"requests_per_second": 0}, "tenant": {"max_concurrent": -2}}""");

        var e = await Assert.ThrowsAsync<ServerStartException>(() => TestServer.StartAsync(_repository, o => o with { LimitsFile = file }));

        string error = Assert.Single(e.Errors);
        Assert.Contains($"--limits-file '{file}'", error);
        Assert.Contains("'principal.requests_per_second' must be a positive number, got 0", error);
        Assert.Contains("'tenant.max_concurrent' must be a positive number (an integer), got -2", error);
    }

    private static async Task<TcpClient> OpenHeldRequestAsync(TestServer server, byte[] body)
    {
        var client = new TcpClient();
        await client.ConnectAsync(server.Server.HttpAddress.Host, server.Server.HttpAddress.Port);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v2/models/identity/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"));
        await client.GetStream().WriteAsync(body.AsMemory(0, 10));
        return client;
    }

    private static async Task<string> ReadResponseAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        int read = await stream.ReadAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }
}
