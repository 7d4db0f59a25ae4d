using System.Text.Json.Nodes;

namespace Quiver.Server.Tests.Admin;

/// <summary>Endpoints with weighted variants through a real server: the split, sticky routing keys, bypass and bad definitions.</summary>
public sealed class EndpointRoutingTests : IAsyncLifetime
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-endpoints-").FullName;
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync(_repository, o => o with { RepositoryPollInterval = TimeSpan.Zero });
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "scorer", AdminApiTests.Adder(1))).Status);
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "scorer", AdminApiTests.Adder(2))).Status);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    private async Task<(int Status, JsonNode? Body)> PutEndpointAsync(string name, string json)
    {
        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _server.Client.PutAsync($"/v2/admin/endpoints/{name}", content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private async Task<(string Variant, string Header, float Output)> InferAsync(string endpoint, string? routingKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{endpoint}/infer")
        {
            Content = new StringContent("""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[10]}]}"""),
        };
        if (routingKey is not null)
        {
            request.Headers.Add("X-Quiver-Routing-Key", routingKey);
        }

        using HttpResponseMessage response = await _server.Client.SendAsync(request);
        JsonNode body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.True(response.IsSuccessStatusCode, body.ToJsonString());
        Assert.Equal(endpoint, (string?)body["model_name"]);
        return ((string)body["parameters"]!["variant"]!, response.Headers.GetValues("X-Quiver-Variant").Single(), (float)body["outputs"]![0]!["data"]![0]!);
    }

    [Fact]
    public async Task RoutedRequest_Spans_CarryEndpointVariantModelVersionAndBatch()
    {
        Assert.Equal(200, (await PutEndpointAsync("traced", """{"variants": [{"name": "only", "model": "scorer", "version": "2", "weight": 100}]}""")).Status);
        var spans = new System.Collections.Concurrent.ConcurrentBag<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == Quiver.Core.Monitoring.QuiverTracing.SourceName,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/traced/infer")
        {
            Content = new StringContent("""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[10]}]}"""),
        };
        const string traceId = "0af7651916cd43dd8448eb211c80319c";
        request.Headers.Add("traceparent", $"00-{traceId}-b7ad6b7169203331-01");

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        Assert.True(response.IsSuccessStatusCode);
        // Other tests' requests may be traced by this listener too: only this trace's spans count.
        System.Diagnostics.Activity[] mine = spans.Where(s => s.TraceId.ToHexString() == traceId).ToArray();
        object? Tag(string span, string key) => Assert.Single(mine, s => s.DisplayName == span).GetTagItem(key);
        Assert.Equal(("traced", "only", "scorer", "2"), (Tag("route traced", "endpoint"), Tag("route traced", "variant"), Tag("route traced", "model"), Tag("route traced", "version")));
        Assert.Equal(("scorer", 2L), (Tag("infer scorer", "model"), Tag("infer scorer", "version")));
        Assert.Equal((1L, 1), (Convert.ToInt64(Tag("execute", "batch.rows")), Convert.ToInt32(Tag("execute", "batch.requests"))));
        Assert.Contains(mine, s => s.DisplayName == "queue");
        Assert.Contains(mine, s => s.DisplayName == "encode");
    }

    [Fact]
    public async Task Endpoint_SplitsByWeight_NamesTheVariant_AndKeepsKeyedUsersOnTheirVariant()
    {
        var (status, created) = await PutEndpointAsync("checkout", """
            {"variants": [{"name": "control", "model": "scorer", "version": "1", "weight": 80},
                          {"name": "treatment", "model": "scorer", "version": "2", "weight": 20}]}
            """);
        Assert.Equal(200, status);
        Assert.Equal(2, created!["variants"]!.AsArray().Count);

        var counts = new Dictionary<string, int>();
        for (int i = 0; i < 400; i++)
        {
            var (variant, header, output) = await InferAsync("checkout");
            Assert.Equal(variant, header);
            Assert.Equal(variant == "control" ? 11f : 12f, output); // the variant's own version answered
            counts[variant] = counts.GetValueOrDefault(variant) + 1;
        }

        // 80/20 over 400 requests: control within 4.5 standard deviations (one is 8 requests) of 320.
        Assert.InRange(counts.GetValueOrDefault("control"), 320 - 36, 320 + 36);
        var (_, view) = await _server.GetAsync("/v2/admin/endpoints/checkout");
        Assert.Equal(counts["control"], (long)view!["variants"]![0]!["routed"]!);
        using (var metrics = new HttpClient { BaseAddress = _server.Server.MetricsAddress })
        {
            Monitoring.PrometheusText scraped = Monitoring.PrometheusText.Parse(await metrics.GetStringAsync("/metrics"));
            Assert.Equal(counts["control"], scraped.Value("quiver_variant_requests_total", ("endpoint", "checkout"), ("variant", "control")));
            Assert.Equal(counts["treatment"], scraped.Value("quiver_variant_requests_total", ("endpoint", "checkout"), ("variant", "treatment")));
        }

        for (int user = 0; user < 20; user++)
        {
            string first = (await InferAsync("checkout", $"user-{user}")).Variant;
            for (int again = 0; again < 3; again++)
            {
                Assert.Equal(first, (await InferAsync("checkout", $"user-{user}")).Variant);
            }
        }

        // An explicit version bypasses routing.
        var (explicitStatus, explicitBody) = await _server.PostAsync("/v2/models/scorer/versions/2/infer",
            """{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[10]}]}""");
        Assert.Equal(200, explicitStatus);
        Assert.Null(explicitBody!["parameters"]?["variant"]);
    }

    public static TheoryData<string, int, string> BadDefinitions => new()
    {
        { """{"variants": [{"name": "a", "model": "scorer", "version": "1", "weight": 60}, {"name": "b", "model": "scorer", "version": "2", "weight": 30}]}""", 400, "sum to 90" },
        { """{"variants": [{"name": "a", "model": "scorer", "version": "1", "weight": 120}, {"name": "b", "model": "scorer", "version": "2", "weight": -20}]}""", 400, "weight -20" },
        { """{"variants": [{"name": "a", "model": "nope", "version": "1", "weight": 100}]}""", 404, "variant 'a' cannot serve" },
        { """{"variants": [{"name": "a", "model": "scorer", "version": "9", "weight": 100}]}""", 404, "no version '9'" },
        { """{"variants": []}""", 400, "at least one variant" },
        { """{"variants": [{"model": "scorer", "weight": 100}]}""", 400, "every variant with a name" },
        { "{not json", 400, "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(BadDefinitions))]
    public async Task BadDefinition_IsRefusedSayingWhy_AndNothingIsCreated(string json, int expected, string message)
    {
        var (status, body) = await PutEndpointAsync("broken", json);

        Assert.Equal(expected, status);
        Assert.Contains(message, (string?)body!["error"]);
        Assert.Equal(404, (await _server.GetAsync("/v2/admin/endpoints/broken")).Status);
    }

    [Fact]
    public async Task Shadow_GetsACopyOfTheRequests_ClientsOnlyEverSeeThePrimary_AndTheComparisonIsRecorded()
    {
        Assert.Equal(200, (await PutEndpointAsync("mirrored", """
            {"variants": [{"name": "main", "model": "scorer", "version": "1", "weight": 100}],
             "shadow": {"model": "scorer", "version": "2", "percent": 100}}
            """)).Status);
        Assert.Equal(200, (await PutEndpointAsync("twin", """
            {"variants": [{"name": "main", "model": "scorer", "version": "1", "weight": 100}],
             "shadow": {"model": "scorer", "version": "1", "percent": 100}}
            """)).Status);

        for (int i = 0; i < 30; i++)
        {
            Assert.Equal(11f, (await InferAsync("mirrored")).Output); // version 1 answers; version 2 would say 12
            await InferAsync("twin");
        }

        async Task<JsonNode> ShadowOfAsync(string endpoint)
        {
            var deadline = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                JsonNode shadow = (await _server.GetAsync($"/v2/admin/endpoints/{endpoint}")).Body!["shadow"]!;
                if ((long)shadow["compared"]! + (long)shadow["dropped"]! == 30)
                {
                    return shadow;
                }

                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"shadow of {endpoint} after 30 s: {shadow.ToJsonString()}");
                await Task.Delay(50);
            }
        }

        JsonNode different = await ShadowOfAsync("mirrored");
        Assert.True((long)different["compared"]! > 0);
        Assert.Equal(0, (double)different["agreement_rate"]!);
        Assert.Equal(1, (double)different["mean_absolute_difference"]!, 1e-6); // 12 - 11 on every compared request
        JsonNode same = await ShadowOfAsync("twin");
        Assert.Equal(1, (double)same["agreement_rate"]!);
        Assert.Equal(0, (double)same["mean_absolute_difference"]!);

        Assert.Equal(404, (await PutEndpointAsync("ghostly", """{"variants": [{"name": "main", "model": "scorer", "version": "1", "weight": 100}], "shadow": {"model": "scorer", "version": "7", "percent": 10}}""")).Status);
        Assert.Equal(400, (await PutEndpointAsync("ghostly", """{"variants": [{"name": "main", "model": "scorer", "version": "1", "weight": 100}], "shadow": {"model": "scorer", "version": "2", "percent": 0}}""")).Status);
    }

    [Fact]
    public async Task VariantOnAFailedVersion_Is409NamingTheVariant_AndTheOldDefinitionStays()
    {
        // A configuration this machine cannot honour (CUDA, no fallback) fails version 3 at load.
        var (pushed, version) = await AdminApiTests.PushAsync(_server, "scorer", AdminApiTests.Adder(3),
            "?config=" + Uri.EscapeDataString("""{"execution_providers": ["cuda"], "fallback_to_cpu": false}"""));
        Assert.Equal(201, pushed);
        Assert.Equal("failed", (string?)version!["state"]);
        Assert.Equal(200, (await PutEndpointAsync("steady", """{"variants": [{"name": "old", "model": "scorer", "version": "1", "weight": 100}]}""")).Status);

        var (status, body) = await PutEndpointAsync("steady", """
            {"variants": [{"name": "old", "model": "scorer", "version": "1", "weight": 50},
                          {"name": "broken", "model": "scorer", "version": "3", "weight": 50}]}
            """);

        Assert.Equal(409, status);
        Assert.Contains("variant 'broken' cannot serve", (string?)body!["error"]);
        var (_, kept) = await _server.GetAsync("/v2/admin/endpoints/steady");
        Assert.Equal(["old"], kept!["variants"]!.AsArray().Select(v => (string?)v!["name"]));
        for (int i = 0; i < 10; i++)
        {
            var (variant, _, output) = await InferAsync("steady");
            Assert.Equal(("old", 11f), (variant, output));
        }

        Assert.Equal(409, (await PutEndpointAsync("fresh", """{"variants": [{"name": "broken", "model": "scorer", "version": "3", "weight": 100}]}""")).Status);
        Assert.Equal(404, (await _server.GetAsync("/v2/admin/endpoints/fresh")).Status);
    }

    [Theory]
    [InlineData("user\u0001id", "non-printable character (U+0001) at position 4")]
    [InlineData("tab\tkey", "non-printable character (U+0009) at position 3")]
    public async Task BinaryRoutingKey_Is400_SayingWhatAKeyIs(string key, string message)
    {
        Assert.Equal(200, (await PutEndpointAsync("keyed", """{"variants": [{"name": "only", "model": "scorer", "version": "1", "weight": 100}]}""")).Status);
        string json = new JsonObject
        {
            ["inputs"] = JsonNode.Parse("""[{"name":"input","shape":[1,1],"datatype":"FP32","data":[10]}]"""),
            ["parameters"] = new JsonObject { ["routing_key"] = key },
        }.ToJsonString();

        var (status, body) = await _server.PostAsync("/v2/models/keyed/infer", json);

        Assert.Equal(400, status);
        Assert.Contains(message, (string?)body!["error"]);
        Assert.Contains("printable text of at most 256 UTF-8 bytes", (string?)body["error"]);
    }

    [Fact]
    public async Task ShadowThatFails_NeverFailsThePrimary_AndItsFailuresAndLatencyAreRecorded()
    {
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "table", RolloutTests.Lookup(1, 2, 3, 4, 5))).Status);
        Assert.Equal(201, (await AdminApiTests.PushAsync(_server, "table", RolloutTests.Lookup(10, 20, 30, 40))).Status); // index 4 fails
        Assert.Equal(200, (await PutEndpointAsync("guarded", """
            {"variants": [{"name": "main", "model": "table", "version": "1", "weight": 100}],
             "shadow": {"model": "table", "version": "2", "percent": 100}}
            """)).Status);

        JsonNode shadow = null!;
        for (int i = 0; i < 20; i++)
        {
            var (status, body) = await _server.PostAsync("/v2/models/guarded/infer",
                $$"""{"inputs":[{"name":"input","shape":[1,1],"datatype":"INT64","data":[{{i % 5}}]}]}""");
            Assert.True(status == 200, body?.ToJsonString()); // the shadow fails on every fifth; the client never sees it
            Assert.Equal(i % 5 + 1, (float)body!["outputs"]![0]!["data"]![0]!);

            // One shadow at a time, so none is dropped and the counts are exact.
            var deadline = System.Diagnostics.Stopwatch.StartNew();
            while ((long)(shadow = (await _server.GetAsync("/v2/admin/endpoints/guarded")).Body!["shadow"]!)["compared"]! < i + 1)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), shadow.ToJsonString());
                await Task.Delay(20);
            }
        }

        Assert.Equal((20L, 4L, 0L), ((long)shadow["compared"]!, (long)shadow["failed"]!, (long)shadow["dropped"]!));
        Assert.Equal(0, (double)shadow["agreement_rate"]!); // the answers differ tenfold
        Assert.True((double)shadow["shadow_mean_ms"]! > 0 && (double)shadow["primary_mean_ms"]! > 0, shadow.ToJsonString());
    }

    [Fact]
    public async Task HugeRoutingKey_Is400_AndDeletedEndpointsStopRouting()
    {
        Assert.Equal(200, (await PutEndpointAsync("solo", """{"variants": [{"name": "only", "model": "scorer", "version": "1", "weight": 100}]}""")).Status);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/solo/infer")
        {
            Content = new StringContent("""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[10]}]}"""),
        };
        request.Headers.Add("X-Quiver-Routing-Key", new string('k', 1000));
        using HttpResponseMessage response = await _server.Client.SendAsync(request);
        Assert.Equal(400, (int)response.StatusCode);
        Assert.Contains("the routing key is 1000 bytes; a routing key is printable text of at most 256 UTF-8 bytes", await response.Content.ReadAsStringAsync());

        Assert.Equal(200, (int)(await _server.Client.DeleteAsync("/v2/admin/endpoints/solo")).StatusCode);
        Assert.Equal(404, (int)(await _server.Client.DeleteAsync("/v2/admin/endpoints/solo")).StatusCode);
        Assert.Equal(404, (await _server.PostAsync("/v2/models/solo/infer", """{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[10]}]}""")).Status);
    }
}
