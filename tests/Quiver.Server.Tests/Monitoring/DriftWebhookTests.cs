using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Monitoring;

/// <summary>
/// Drift events posted to a webhook receiver stand-in (a real Kestrel endpoint in the test that keeps what it
/// receives): one event when a model starts drifting, naming the feature; none for a model that stays stable.
/// </summary>
public sealed class DriftWebhookTests : IAsyncLifetime
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-webhook-").FullName;
    private readonly ConcurrentQueue<JsonNode> _events = new();
    private WebApplication _receiver = null!;
    private TestServer _server = null!;
    private int _failuresLeft = 1;

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _receiver = builder.Build();
        _receiver.MapPost("/hooks/drift", async (HttpContext context) =>
        {
            // The first delivery fails, as a receiver that is briefly down would: the event must come again.
            if (Interlocked.Decrement(ref _failuresLeft) >= 0)
            {
                return Results.StatusCode(503);
            }

            _events.Enqueue((await JsonNode.ParseAsync(context.Request.Body))!);
            return Results.Ok();
        });
        await _receiver.StartAsync();

        foreach (string name in new[] { "drifting", "steady" })
        {
            string dir = Path.Combine(_repository, name, "1");
            Directory.CreateDirectory(dir);
            SampleModels.Identity(TensorElementType.Float, "batch", 3).Save(Path.Combine(dir, "model.onnx"));
            // Scored only on a full window: the checks run every 100 ms, and a window of 100 uniform rows against the
            // baseline scores a PSI around the 0.1 warning by chance alone, so a steady model could flap on a slow box.
            File.WriteAllText(Path.Combine(_repository, name, "config.json"),
                """{"max_batch_size": 64, "drift": {"baseline_rows": 400, "window_rows": 400, "minimum_window_rows": 400}}""");
        }

        _server = await TestServer.StartAsync(_repository, o => o with
        {
            DriftWebhook = _receiver.Urls.First() + "/hooks/drift",
            DriftCheckInterval = TimeSpan.FromMilliseconds(100),
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _receiver.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    private async Task SendAsync(string model, Random random, double shiftOfColumn1, int requests)
    {
        for (int i = 0; i < requests; i++)
        {
            var data = new List<string>();
            for (int row = 0; row < 40; row++)
            {
                for (int column = 0; column < 3; column++)
                {
                    data.Add((random.NextDouble() + (column == 1 ? shiftOfColumn1 : 0)).ToString("R", CultureInfo.InvariantCulture));
                }
            }

            var (status, _) = await _server.PostAsync($"/v2/models/{model}/infer",
                $$"""{"inputs":[{"name":"input","shape":[40,3],"datatype":"FP32","data":[{{string.Join(",", data)}}]}]}""");
            Assert.Equal(200, status);
        }
    }

    [Fact]
    public async Task DriftingModel_PostsItsStateChangesNamingTheFeature_AfterAFailedDelivery_StableModelPostsNone()
    {
        var random = new Random(3);
        await SendAsync("drifting", random, 0, 10);
        await SendAsync("steady", random, 0, 10);
        await SendAsync("drifting", random, 0.6, 10);
        await SendAsync("steady", random, 0, 10);

        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (!_events.Any(e => (string?)e["state"] == "drifting"))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "no drifting event within 30 s");
            await Task.Delay(50);
        }

        await Task.Delay(500); // later checks must not repeat an announced state

        // While the window fills the state may pass through "warning" first; every event is a change, and only the drifting model has any.
        JsonNode[] events = _events.ToArray();
        Assert.All(events, e => Assert.Equal(("drifting", "1"), ((string?)e["model"], (string?)e["version"])));
        Assert.All(events.Zip(events.Skip(1)), pair => Assert.NotEqual((string?)pair.First["state"], (string?)pair.Second["state"]));
        Assert.All(events.Zip(events.Skip(1)), pair => Assert.Equal((string?)pair.First["state"], (string?)pair.Second["previous_state"]));
        JsonNode drift = events[^1];
        Assert.Equal("drift_state_changed", (string?)drift["event"]);
        Assert.Equal("drifting", (string?)drift["state"]);
        Assert.Equal("input[1]", (string?)drift["top_features"]![0]!["feature"]);
        Assert.True((double)drift["top_features"]![0]!["psi"]! > 0.25);
    }
}
