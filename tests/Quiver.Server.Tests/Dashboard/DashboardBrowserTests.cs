using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Quiver.Server.Tests.Dashboard;

/// <summary>
/// The dashboard page in real headless Chromium against a real server: it loads without console errors, shows every
/// model version, and its numbers follow the API as requests are made. Every wait is for a condition on the page,
/// never for a fixed time, so a slow machine only makes it slower.
/// </summary>
public sealed class DashboardBrowserTests(DashboardServerFixture fixture, ChromiumFixture chromium, ITestOutputHelper output)
    : IClassFixture<DashboardServerFixture>, IClassFixture<ChromiumFixture>
{
    /// <summary>Set to 1 to write the screenshot over docs/dashboard.png as well as into the test output folder.</summary>
    public const string UpdateDocsVariable = "QUIVER_UPDATE_DASHBOARD_SCREENSHOT";

    private readonly TestServer _server = fixture.Server;

    // True once the cell of a version's field has the data-value the predicate wants.
    private const string CellIs = """
        ([model, version, field, op, expected]) => {
          const cell = document.querySelector(
            `tr[data-model="${CSS.escape(model)}"][data-version="${CSS.escape(version)}"] [data-field="${field}"]`);
          if (cell === null) return false;
          const value = cell.dataset.value;
          switch (op) {
            case "eq": return value === expected;
            case "gt": return value !== "" && Number(value) > Number(expected);
            case "set": return value !== "";
          }
          return false;
        }
        """;

    private static Task WaitForCellAsync(IPage page, string model, string version, string field, string op, string expected = "") =>
        page.WaitForFunctionAsync(CellIs, new object[] { model, version, field, op, expected });

    private static ILocator Cell(IPage page, string model, string version, string field) =>
        page.Locator($"tr[data-model='{model}'][data-version='{version}'] [data-field='{field}']");

    private async Task<(long Success, long Failure)> StatsAsync(string model, string version)
    {
        var (_, body) = await _server.GetAsync($"/v2/models/{model}/versions/{version}/stats");
        JsonNode stats = body!["model_stats"]![0]!["inference_stats"]!;
        return ((long)stats["success"]!["count"]!, (long)stats["fail"]!["count"]!);
    }

    private static void AssertNoErrors(List<string> errors)
    {
        lock (errors)
        {
            Assert.True(errors.Count == 0, "the page reported errors:\n" + string.Join("\n", errors));
        }
    }

    [Fact]
    public async Task Page_ShowsEveryVersionWithItsState_AndItsCountsFollowTheApi()
    {
        var (page, errors) = await chromium.OpenAsync(new Uri(_server.Server.HttpAddress, "ui"));
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#model-rows tr').length === 7");

        Assert.EndsWith("/ui/", page.Url);
        Assert.Equal("failed", await Cell(page, "broken", "1", "state").GetAttributeAsync("data-value"));
        Assert.Contains("is not a valid ONNX model", await Cell(page, "broken", "1", "reason").TextContentAsync());
        Assert.Contains("production", await Cell(page, "iris", "2", "version").TextContentAsync());
        Assert.Equal("ready", await Cell(page, "iris", "2", "state").GetAttributeAsync("data-value"));

        var random = new Random(3);
        for (int i = 0; i < 7; i++)
        {
            Assert.Equal(200, (await _server.PostAsync("/v2/models/iris/versions/1/infer", DashboardServerFixture.Rows(1, 4, random.NextDouble))).Status);
        }

        Assert.Equal(400, (await _server.PostAsync("/v2/models/iris/versions/1/infer", DashboardServerFixture.Rows(1, 5, random.NextDouble))).Status);
        var (success, failure) = await StatsAsync("iris", "1");
        Assert.True(success >= 7 && failure >= 1);

        await WaitForCellAsync(page, "iris", "1", "success", "eq", success.ToString(CultureInfo.InvariantCulture));
        await WaitForCellAsync(page, "iris", "1", "failure", "eq", failure.ToString(CultureInfo.InvariantCulture));
        Assert.StartsWith(success.ToString("N0", CultureInfo.GetCultureInfo("en-US")), (await Cell(page, "iris", "1", "success").TextContentAsync())!.Trim());
        Assert.Equal("live", await page.Locator("#status").GetAttributeAsync("data-state"));
        AssertNoErrors(errors);
        await page.CloseAsync();
    }

    [Fact]
    public async Task Page_UnderLoad_ShowsRatesLatencyCacheAndDrift_AndIsCapturedAsAScreenshot()
    {
        var (page, errors) = await chromium.OpenAsync(new Uri(_server.Server.HttpAddress, "ui"));
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3)); // a bound on the load, should a wait never end
        Task[] load =
        [
            LoadIrisAsync(seed: 1, stop.Token), LoadIrisAsync(seed: 2, stop.Token), LoadChurnAsync(stop.Token), LoadSensorsAsync(stop.Token),
            LoadExperimentAsync(stop.Token), LoadFraudAsync(stop.Token),
        ];
        try
        {
            await WaitForCellAsync(page, "iris", "2", "rps", "gt", "0");
            await WaitForCellAsync(page, "iris", "2", "p50", "set");
            await WaitForCellAsync(page, "iris", "2", "p99", "set");
            await WaitForCellAsync(page, "iris", "2", "failure", "gt", "0");
            await WaitForCellAsync(page, "churn", "1", "cache", "gt", "0.5");
            await WaitForCellAsync(page, "sensors", "1", "drift", "eq", "drifting");
            await page.WaitForFunctionAsync("() => Number(document.getElementById('rps-chart').dataset.points || 0) >= 20");
            await page.WaitForFunctionAsync("() => document.querySelector('#drift-cards [data-feature=\"input[1]\"]') !== null");
            await page.WaitForFunctionAsync("""
                () => [...document.querySelectorAll('[data-endpoint="iris-ab"] [data-field="routed"]')]
                  .filter(cell => Number(cell.dataset.value) > 20).length === 2
                """);
            await page.WaitForFunctionAsync("""
                () => [...document.querySelectorAll('[data-rollout="fraud"] tbody tr')].length === 2
                """);
            // Each variant shows the live rate and p99 of the version it serves: the same figures as that version's row.
            await page.WaitForFunctionAsync("""
                () => {
                  const versions = new Set([...document.querySelectorAll('#model-rows [data-field="rps"]')].map(c => c.dataset.value));
                  const variants = [...document.querySelectorAll('[data-endpoint="iris-ab"] [data-field="rps"]')];
                  const p99s = [...document.querySelectorAll('[data-endpoint="iris-ab"] [data-field="p99"]')];
                  return variants.length === 2 && variants.every(c => Number(c.dataset.value) > 0 && versions.has(c.dataset.value))
                    && p99s.every(c => Number(c.dataset.value) > 0);
                }
                """);

            Assert.Equal("input[1]", await page.Locator("#drift-cards [data-model='sensors'] tbody tr").First.GetAttributeAsync("data-feature"));
            Assert.Equal("running", await page.Locator("[data-rollout='fraud'] [data-field='state']").TextContentAsync());
            Assert.Contains("churn", await page.Locator("[data-endpoint='iris-ab'] [data-field='shadow']").TextContentAsync());
            Assert.NotEqual("—", await page.Locator("#process-cpu").TextContentAsync());
            byte[] png = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true });
            SaveScreenshot(png);
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(load.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        }

        // Once the load has stopped, the page settles on exactly the counts the statistics extension reports.
        var (success, failure) = await StatsAsync("iris", "2");
        await WaitForCellAsync(page, "iris", "2", "success", "eq", success.ToString(CultureInfo.InvariantCulture));
        await WaitForCellAsync(page, "iris", "2", "failure", "eq", failure.ToString(CultureInfo.InvariantCulture));
        AssertNoErrors(errors);
        await page.CloseAsync();
    }

    [Fact]
    public async Task Page_ShowsRecentAuditEvents_AsTheAuditApiReportsThem()
    {
        Assert.Equal(404, (await _server.PostAsync("/v2/admin/models/no-such-model/rollback", "{}")).Status);
        Assert.Equal(200, (await _server.PostAsync("/v2/admin/audit/anchor", "")).Status);
        var (_, verified) = await _server.GetAsync("/v2/admin/audit/verify");
        var (_, recent) = await _server.GetAsync("/v2/admin/audit?recent=20");
        JsonNode[] entries = [.. recent!["entries"]!.AsArray().Select(e => e!)];
        string newest = ((long)entries[0]["sequence"]!).ToString(CultureInfo.InvariantCulture);

        var (page, errors) = await chromium.OpenAsync(new Uri(_server.Server.HttpAddress, "ui"));
        await page.WaitForFunctionAsync("n => document.querySelector('#audit-rows tr')?.dataset.sequence === n", newest);
        await page.WaitForFunctionAsync("() => document.getElementById('audit-chain').dataset.state === 'valid'");

        Assert.True((bool)verified!["valid"]!);
        ILocator rows = page.Locator("#audit-rows tr");
        Assert.Equal(entries.Length, await rows.CountAsync());
        for (int i = 0; i < entries.Length; i++)
        {
            ILocator row = rows.Nth(i);
            Assert.Equal(((long)entries[i]["sequence"]!).ToString(CultureInfo.InvariantCulture), await row.GetAttributeAsync("data-sequence"));
            foreach (string field in new[] { "action", "resource", "outcome", "actor" })
            {
                Assert.Equal((string?)entries[i][field], await row.Locator($"[data-field='{field}']").GetAttributeAsync("data-value"));
            }
        }

        Assert.Equal("audit.anchor", await rows.Nth(0).Locator("[data-field='action']").GetAttributeAsync("data-value"));
        Assert.Equal("failure", await rows.Nth(1).Locator("[data-field='outcome']").GetAttributeAsync("data-value"));
        AssertNoErrors(errors);
        await page.CloseAsync();
    }

    [Fact]
    public async Task Page_WithNoModels_ShowsTheEmptyState_NotAnError()
    {
        string empty = Directory.CreateTempSubdirectory("quiver-empty-").FullName;
        try
        {
            await using TestServer server = await TestServer.StartAsync(empty);
            var (page, errors) = await chromium.OpenAsync(new Uri(server.Server.HttpAddress, "ui"));

            await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'live'");

            Assert.True(await page.Locator("#empty").IsVisibleAsync());
            Assert.False(await page.Locator("#models-wrap").IsVisibleAsync());
            Assert.Equal("0", (await page.Locator("#total-models").TextContentAsync())!.Trim());
            await page.WaitForFunctionAsync("() => !document.getElementById('audit-empty').hidden");
            Assert.False(await page.Locator("#audit-wrap").IsVisibleAsync());
            AssertNoErrors(errors);
            await page.CloseAsync();
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public async Task Page_ShowsAReasonThatContainsMarkup_AsText()
    {
        string root = Directory.CreateTempSubdirectory("quiver-markup-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "markup", "1"));
            Quiver.Onnx.Model.SampleModels.Identity(Quiver.Onnx.TensorElementType.Float, "batch", 3)
                .Save(Path.Combine(root, "markup", "1", "model.onnx"));
            const string injected = "<img src=x onerror=\"window.injected=1\"><b>bold</b>";
            File.WriteAllText(Path.Combine(root, "markup", "config.json"),
                "{\"" + injected.Replace("\"", "\\\"", StringComparison.Ordinal) + "\": 1}");
            await using TestServer server = await TestServer.StartAsync(root);
            var (page, errors) = await chromium.OpenAsync(new Uri(server.Server.HttpAddress, "ui"));

            await WaitForCellAsync(page, "markup", "1", "state", "eq", "failed");

            Assert.Contains(injected, await Cell(page, "markup", "1", "reason").TextContentAsync());
            Assert.Equal(0, await page.Locator("#model-rows img, #model-rows b").CountAsync());
            Assert.True(await page.EvaluateAsync<bool>("() => window.injected === undefined"));
            AssertNoErrors(errors);
            await page.CloseAsync();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private void SaveScreenshot(byte[] png)
    {
        string file = Path.Combine(AppContext.BaseDirectory, "dashboard.png");
        File.WriteAllBytes(file, png);
        output.WriteLine($"screenshot: {file}");
        if (Environment.GetEnvironmentVariable(UpdateDocsVariable) == "1")
        {
            string docs = Path.Combine(RepositoryRoot.Path, "docs", "dashboard.png");
            File.WriteAllBytes(docs, png);
            output.WriteLine($"screenshot: {docs}");
        }
    }

    // One-row requests to the production version; every 25th has the wrong width, so failures show too.
    private async Task LoadIrisAsync(int seed, CancellationToken stop)
    {
        var random = new Random(seed);
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            await _server.PostAsync("/v2/models/iris/infer", DashboardServerFixture.Rows(1, i % 25 == 24 ? 3 : 4, random.NextDouble));
            await Task.Delay(5, CancellationToken.None);
        }
    }

    // Six distinct inputs, so most requests are answered from the cache.
    private async Task LoadChurnAsync(CancellationToken stop)
    {
        var random = new Random(4);
        while (!stop.IsCancellationRequested)
        {
            double value = random.Next(6);
            await _server.PostAsync("/v2/models/churn/infer", DashboardServerFixture.Rows(1, 4, () => value));
            await Task.Delay(10, CancellationToken.None);
        }
    }

    // Requests to the A/B endpoint, each followed by its outcome: the logistic variant converts more often.
    private async Task LoadExperimentAsync(CancellationToken stop)
    {
        var random = new Random(7);
        while (!stop.IsCancellationRequested)
        {
            var (status, body) = await _server.PostAsync("/v2/models/iris-ab/infer", DashboardServerFixture.Rows(1, 4, random.NextDouble));
            if (status == 200 && body?["id"] is { } id)
            {
                double conversion = (string?)body["parameters"]?["variant"] == "logistic" ? 0.45 : 0.3;
                string outcome = random.NextDouble() < conversion ? "true" : "false";
                await _server.PostAsync("/v2/feedback", $$"""{"id": "{{(string?)id}}", "outcome": {{outcome}}}""");
            }

            await Task.Delay(10, CancellationToken.None);
        }
    }

    // Unversioned requests to fraud: the rollout sends a tenth of them to the candidate.
    private async Task LoadFraudAsync(CancellationToken stop)
    {
        var random = new Random(8);
        while (!stop.IsCancellationRequested)
        {
            await _server.PostAsync("/v2/models/fraud/infer", DashboardServerFixture.Rows(1, 4, random.NextDouble));
            await Task.Delay(10, CancellationToken.None);
        }
    }

    // 200 rows of baseline, then column 1 moved by 0.6 on a [0, 1) range: the model drifts on input[1].
    private async Task LoadSensorsAsync(CancellationToken stop)
    {
        var random = new Random(5);
        for (int request = 0; !stop.IsCancellationRequested; request++)
        {
            int column = 0;
            double shift = request < 5 ? 0 : 0.6;
            await _server.PostAsync("/v2/models/sensors/infer",
                DashboardServerFixture.Rows(40, 3, () => random.NextDouble() + (column++ % 3 == 1 ? shift : 0)));
            await Task.Delay(50, CancellationToken.None);
        }
    }
}
