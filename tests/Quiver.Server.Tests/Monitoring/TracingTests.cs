using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Quiver.Server.Tests.Monitoring;

/// <summary>
/// Traces exported over OTLP/HTTP to a collector stand-in: a real Kestrel endpoint in the test that keeps the
/// protobuf bodies it receives, which are searched for the trace id and the span names.
/// </summary>
public sealed class TracingTests(ModelRepositoryFixture repository) : IClassFixture<ModelRepositoryFixture>, IAsyncLifetime
{
    private readonly ConcurrentQueue<byte[]> _exports = new();
    private WebApplication _collector = null!;
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _collector = builder.Build();
        _collector.MapPost("/v1/traces", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            _exports.Enqueue(body.ToArray());
            return Results.Ok();
        });
        await _collector.StartAsync();
        string collector = _collector.Urls.First();
        _server = await TestServer.StartAsync(repository.Root, o => o with { OtlpEndpoint = collector, OtlpExportDelayMilliseconds = 200 });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _collector.DisposeAsync();
    }

    [Fact]
    public async Task IncomingTraceparent_IsContinued_AndTheStagesAreExported()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/mlp/infer")
        {
            Content = new StringContent("""{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(traceId, response.Headers.GetValues("X-Request-Id").Single());
        byte[] traceBytes = Convert.FromHexString(traceId);
        byte[] export = await WaitForExportAsync(body => Contains(body, traceBytes) && Contains(body, "execute"u8.ToArray()));
        foreach (string span in new[] { "infer mlp", "queue", "execute", "encode" })
        {
            Assert.True(Contains(export, Encoding.UTF8.GetBytes(span)), $"span '{span}' missing from the export");
        }
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("00-zzzz-00f067aa0ba902b7-01")]
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01")]
    public async Task MalformedTraceparent_IsIgnored_AndANewTraceStarts(string traceparent)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/mlp/infer")
        {
            Content = new StringContent("""{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("traceparent", traceparent);

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        Assert.Equal(200, (int)response.StatusCode);
        string id = response.Headers.GetValues("X-Request-Id").Single();
        Assert.Equal(32, id.Length);
        Assert.NotEqual(new string('0', 32), id);
    }

    private async Task<byte[]> WaitForExportAsync(Func<byte[], bool> match)
    {
        for (int i = 0; i < 300; i++)
        {
            if (_exports.FirstOrDefault(match) is { } found)
            {
                return found;
            }

            await Task.Delay(100);
        }

        Assert.Fail("no matching OTLP export in 30 s");
        return [];
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
