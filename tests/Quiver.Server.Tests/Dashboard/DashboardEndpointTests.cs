using System.Net;
using System.Text.Json.Nodes;
using Quiver.Server.Dashboard;

namespace Quiver.Server.Tests.Dashboard;

/// <summary>The dashboard's JSON and static files over real HTTP; the page itself is tested in Chromium (DashboardBrowserTests).</summary>
public sealed class DashboardEndpointTests(DashboardServerFixture fixture) : IClassFixture<DashboardServerFixture>
{
    private readonly TestServer _server = fixture.Server;

    private static JsonNode Version(JsonNode dashboard, string model, string version) =>
        dashboard["models"]!.AsArray().Single(m => (string?)m!["name"] == model)!["versions"]!.AsArray()
            .Single(v => (string?)v!["version"] == version)!;

    private async Task<JsonNode> DashboardAsync()
    {
        var (status, body) = await _server.GetAsync(DashboardEndpoints.ApiPath);
        Assert.Equal(200, status);
        return body!;
    }

    [Fact]
    public async Task Dashboard_CountsMatchTheStatisticsExtension()
    {
        var random = new Random(1);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await _server.PostAsync("/v2/models/iris/versions/1/infer", DashboardServerFixture.Rows(2, 4, random.NextDouble))).Status);
        }

        Assert.Equal(400, (await _server.PostAsync("/v2/models/iris/versions/1/infer", DashboardServerFixture.Rows(1, 3, random.NextDouble))).Status);

        JsonNode version = Version(await DashboardAsync(), "iris", "1");
        var (_, stats) = await _server.GetAsync("/v2/models/iris/versions/1/stats");
        JsonNode expected = stats!["model_stats"]![0]!;
        Assert.Equal((long)expected["inference_stats"]!["success"]!["count"]!, (long)version["success"]!);
        Assert.Equal((long)expected["inference_stats"]!["fail"]!["count"]!, (long)version["failure"]!);
        Assert.Equal((long)expected["inference_count"]!, (long)version["inferences"]!);
        Assert.Equal((long)expected["execution_count"]!, (long)version["executions"]!);
        Assert.True((long)version["success"]! >= 3);
        Assert.True((long)version["failure"]! >= 1);
    }

    [Fact]
    public async Task Dashboard_ListsEveryVersion_WithStateAliasesCacheDriftAndTheReasonOfAFailure()
    {
        JsonNode dashboard = await DashboardAsync();

        Assert.Equal(["broken", "churn", "fraud", "iris", "sensors"], dashboard["models"]!.AsArray().Select(m => (string)m!["name"]!));
        Assert.Equal(["production"], Version(dashboard, "iris", "2")["aliases"]!.AsArray().Select(a => (string)a!));
        Assert.Equal(["staging"], Version(dashboard, "iris", "1")["aliases"]!.AsArray().Select(a => (string)a!));
        JsonNode broken = Version(dashboard, "broken", "1");
        Assert.Equal("failed", (string?)broken["state"]);
        Assert.Contains("is not a valid ONNX model", (string?)broken["reason"]);
        Assert.Null(broken["success"]); // nothing loaded, nothing counted
        Assert.NotNull(Version(dashboard, "churn", "1")["cache"]);
        Assert.Null(Version(dashboard, "iris", "2")["cache"]);
        Assert.Equal("ok", (string?)Version(dashboard, "sensors", "1")["drift"]!["state"]);
        Assert.Null(Version(dashboard, "iris", "2")["drift"]);
        Assert.Equal(1, (int)dashboard["totals"]!["versions_failed"]!);
        Assert.Equal(6, (int)dashboard["totals"]!["versions_ready"]!);
        Assert.True((long)dashboard["process"]!["resident_memory_bytes"]! > 0);
    }

    [Fact]
    public async Task Dashboard_OnceTrafficFlows_HasLiveRatesAndPercentiles()
    {
        var random = new Random(2);
        JsonNode? churn = null;
        for (int attempt = 0; attempt < 300; attempt++)
        {
            for (int i = 0; i < 5; i++)
            {
                // Two distinct inputs: every request after the first two is a cache hit.
                double value = i % 2;
                Assert.Equal(200, (await _server.PostAsync("/v2/models/churn/infer", DashboardServerFixture.Rows(1, 4, () => value))).Status);
            }

            churn = Version(await DashboardAsync(), "churn", "1");
            if ((double?)churn["requests_per_second"] > 0 && churn["latency_ms"]!["p50"] is not null)
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.True((double?)churn!["requests_per_second"] > 0, churn.ToJsonString());
        Assert.True((double)churn["latency_ms"]!["p99"]! >= (double)churn["latency_ms"]!["p50"]!);
        Assert.True((double)churn["cache"]!["hit_rate"]! > 0.5);
        Assert.NotNull((await DashboardAsync())["process"]!["cpu_percent"]);
    }

    [Fact]
    public async Task Dashboard_ShowsTheExperimentItsShadowAndTheRolloutWithItsStep()
    {
        var random = new Random(6);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(200, (await _server.PostAsync("/v2/models/fraud/infer", DashboardServerFixture.Rows(1, 4, random.NextDouble))).Status);
        }

        JsonNode dashboard = await DashboardAsync();

        JsonNode endpoint = dashboard["endpoints"]!.AsArray().Single()!; // the rollout's own split is shown as the rollout
        Assert.Equal("iris-ab", (string?)endpoint["name"]);
        Assert.Equal(["mlp", "logistic"], endpoint["variants"]!.AsArray().Select(v => (string)v!["name"]!));
        Assert.Equal("binary", (string?)endpoint["experiment"]!["metric"]);
        Assert.Equal("continue", (string?)endpoint["experiment"]!["decision"]);
        Assert.Equal("churn", (string?)endpoint["shadow"]!["model"]);
        JsonNode rollout = dashboard["rollouts"]!.AsArray().Single()!;
        Assert.Equal("fraud", (string?)rollout["model"]);
        Assert.Equal("running", (string?)rollout["state"]);
        Assert.Equal(1, (int)rollout["baseline"]!);
        Assert.Equal(2, (int)rollout["candidate"]!);
        Assert.Equal(1, (int)rollout["step"]!);
        Assert.Equal(10, (int)rollout["candidate_weight"]!);
        Assert.Equal("start", (string?)rollout["last_event"]!["action"]);
        Assert.Equal(20, (long)rollout["baseline_step"]!["requests"]! + (long)rollout["candidate_step"]!["requests"]!);
        Assert.Null(dashboard["rollouts_error"]);
    }

    [Theory]
    [InlineData("/v2/admin/dashboard/models")]
    [InlineData("/v2/admin/dashboard/x/y")]
    [InlineData("/ui/nothing.js")]
    [InlineData("/ui/css/dashboard.css")]
    public async Task UnknownDashboardPaths_Answer404WithTheErrorJson(string path)
    {
        var (status, body) = await _server.GetAsync(path);

        Assert.Equal(404, status);
        Assert.False(string.IsNullOrEmpty((string?)body!["error"]));
    }

    [Fact]
    public async Task Ui_RedirectsToTheSlashedPath_SoThePageFindsItsFiles()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _server.Server.HttpAddress };

        using HttpResponseMessage response = await client.GetAsync("/ui");

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal("ui/", response.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task Ui_ServesThePageWithAStrictContentSecurityPolicy_AndRevalidatesByETag()
    {
        using HttpResponseMessage page = await _server.Client.GetAsync("/ui/");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        Assert.Contains("<title>Quiver dashboard</title>", await page.Content.ReadAsStringAsync());
        Assert.StartsWith("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());

        using var again = new HttpRequestMessage(HttpMethod.Get, "/ui/");
        again.Headers.IfNoneMatch.Add(page.Headers.ETag!);
        using HttpResponseMessage unchanged = await _server.Client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, unchanged.StatusCode);
    }

    [Theory]
    [InlineData("dashboard.js", "text/javascript")]
    [InlineData("dashboard.css", "text/css")]
    [InlineData("favicon.svg", "image/svg+xml")]
    public async Task Ui_ServesEachFileWithItsContentType(string file, string type)
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/ui/" + file);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(type, response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public void EmbeddedFiles_AreExactlyTheFilesOfWwwroot()
    {
        string wwwroot = Path.Combine(RepositoryRoot.Path, "src", "Quiver.Server", "wwwroot");
        string[] files = Directory.EnumerateFiles(wwwroot, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(wwwroot, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(files, DashboardAssets.Load().Names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void DashboardScript_PutsDataInTheDomOnlyAsText()
    {
        // Model names and failure reasons come from files and users: the script never parses strings as markup.
        string script = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "src", "Quiver.Server", "wwwroot", "dashboard.js"));

        foreach (string sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function" })
        {
            Assert.DoesNotContain(sink, script, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Dashboard_WithNoModels_IsAnEmptyList_NotAnError()
    {
        string empty = Directory.CreateTempSubdirectory("quiver-empty-").FullName;
        try
        {
            await using TestServer server = await TestServer.StartAsync(empty);

            var (status, body) = await server.GetAsync(DashboardEndpoints.ApiPath);

            Assert.Equal(200, status);
            Assert.Empty(body!["models"]!.AsArray());
            Assert.Equal(0, (int)body["totals"]!["models"]!);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
