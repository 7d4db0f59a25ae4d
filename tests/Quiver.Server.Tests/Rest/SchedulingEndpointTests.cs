using System.Text;
using System.Text.Json.Nodes;

namespace Quiver.Server.Tests.Rest;

/// <summary>Back-pressure and deadlines as clients see them: 429 with Retry-After, 504, over REST.</summary>
public sealed class SchedulingEndpointTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly TestServer _server = fixture.Server;

    private const string SlowRequest = """{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}""";

    [Fact]
    public async Task ExpiredTimeoutParameter_Returns504()
    {
        var (status, body) = await _server.PostAsync("/v2/models/mlp/infer",
            """{"parameters":{"timeout":1},"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}""");

        Assert.Equal(504, status);
        Assert.Contains("deadline", (string?)body!["error"]);
    }

    [Fact]
    public async Task FullQueue_Returns429WithRetryAfter_AndAbandonedRequestsFreeTheirSlots()
    {
        // "slow" has one instance and max_queue_size 1: one request runs, one waits, the third is refused.
        using var abandon = new CancellationTokenSource();
        Task<HttpResponseMessage> running = Post(abandon.Token);
        await WaitForStatsAsync(queued: 1);
        // Two more at once: whichever arrives second finds the queue full.
        Task<HttpResponseMessage>[] contenders = [Post(abandon.Token), Post(abandon.Token)];
        Task<HttpResponseMessage> first = await Task.WhenAny(contenders);
        Task<HttpResponseMessage> waiting = contenders.Single(c => c != first);
        using HttpResponseMessage refused = await first;

        Assert.Equal(429, (int)refused.StatusCode);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.Contains("max_queue_size", (string)JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!);

        // The clients give up: the running request is terminated and the waiting one leaves the queue.
        await abandon.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        // The server learns of the disconnects a moment after the client gives up; until then a newcomer may
        // still be told to retry, as Retry-After says. Once it is taken, both slots were freed.
        using var late = new CancellationTokenSource();
        Task<HttpResponseMessage> after = Post(late.Token);
        for (int attempt = 0; attempt < 100 && await IsRefusedAsync(after); attempt++)
        {
            await Task.Delay(100);
            after = Post(late.Token);
        }

        await WaitForStatsAsync(queued: 2);
        // Freed by the cancellations, not by finishing: the slow request (seconds of work) never succeeded, and the
        // abandoned waiter left the queue without being taken (only the first and the newcomer were).
        var (_, stats) = await _server.GetAsync("/v2/models/slow/stats");
        JsonNode inference = stats!["model_stats"]![0]!["inference_stats"]!;
        Assert.Equal(0, (long)inference["success"]!["count"]!);
        Assert.Equal(2, (long)inference["queue"]!["count"]!);
        await late.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => after);
    }

    private static async Task<bool> IsRefusedAsync(Task<HttpResponseMessage> request) =>
        await Task.WhenAny(request, Task.Delay(500)) == request && (int)(await request).StatusCode == 429;

    private Task<HttpResponseMessage> Post(CancellationToken cancellationToken) =>
        _server.Client.PostAsync("/v2/models/slow/infer", new StringContent(SlowRequest, Encoding.UTF8, "application/json"), cancellationToken);

    private async Task WaitForStatsAsync(int queued)
    {
        for (int i = 0; i < 600; i++)
        {
            var (_, body) = await _server.GetAsync("/v2/models/slow/stats");
            if ((long)body!["model_stats"]![0]!["inference_stats"]!["queue"]!["count"]! >= queued)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"the slow model never took request {queued}");
    }
}
