using System.Globalization;
using System.Text.Json.Nodes;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Monitoring;

/// <summary>Drift detection end to end: requests through REST, the report from the management API, the state in /metrics.</summary>
public sealed class DriftEndpointTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly TestServer _server = fixture.Server;

    private async Task AddWatchedModelAsync(string name)
    {
        string dir = Path.Combine(fixture.Root, name, "1");
        Directory.CreateDirectory(dir);
        SampleModels.Identity(TensorElementType.Float, "batch", 3).Save(Path.Combine(dir, "model.onnx"));
        File.WriteAllText(Path.Combine(fixture.Root, name, "config.json"),
            """{"max_batch_size": 64, "drift": {"baseline_rows": 400, "window_rows": 400, "minimum_window_rows": 100}}""");
        Assert.Equal(200, (await _server.PostAsync($"/v2/repository/models/{name}/load", "")).Status);
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
                    double value = random.NextDouble() + (column == 1 ? shiftOfColumn1 : 0);
                    data.Add(value.ToString("R", CultureInfo.InvariantCulture));
                }
            }

            var (status, _) = await _server.PostAsync($"/v2/models/{model}/infer",
                $$"""{"inputs":[{"name":"input","shape":[40,3],"datatype":"FP32","data":[{{string.Join(",", data)}}]}]}""");
            Assert.Equal(200, status);
        }
    }

    [Fact]
    public async Task DriftedInputs_TurnTheStateToDrifting_NamingTheFeature_WhileStableInputsStayOk()
    {
        await AddWatchedModelAsync("drifting");
        await AddWatchedModelAsync("steady");
        var random = new Random(11);
        await SendAsync("drifting", random, 0, 10); // 400 rows of baseline
        await SendAsync("steady", random, 0, 10);

        await SendAsync("drifting", random, 0.6, 10); // column 1 moves by 0.6 on a [0, 1) range
        await SendAsync("steady", random, 0, 10);

        var (_, drifting) = await _server.GetAsync("/v2/admin/models/drifting/drift");
        var (_, steady) = await _server.GetAsync("/v2/admin/models/steady/drift");
        Assert.Equal("drifting", (string?)drifting!["state"]);
        Assert.Equal("input[1]", (string?)drifting["top_drifting"]![0]);
        Assert.Equal("output[1]", (string?)drifting["top_drifting"]![1]); // the identity model's prediction drifts with it
        Assert.Equal("ok", (string?)steady!["state"]);
        Assert.Equal(400, (int)steady["window_rows"]!);

        using var metrics = new HttpClient { BaseAddress = _server.Server.MetricsAddress };
        PrometheusText scraped = PrometheusText.Parse(await metrics.GetStringAsync("/metrics"));
        Assert.Equal(2, scraped.Value("quiver_drift_state", ("model", "drifting"), ("version", "1")));
        Assert.Equal(0, scraped.Value("quiver_drift_state", ("model", "steady"), ("version", "1")));
    }

    [Fact]
    public async Task UploadedBaseline_IsUsed()
    {
        await AddWatchedModelAsync("trained");
        string samples = string.Join(",", Enumerable.Range(0, 200).Select(i => (i / 200.0 + 5).ToString("R", CultureInfo.InvariantCulture)));

        var (status, report) = await _server.PostAsync("/v2/admin/models/trained/drift/baseline", $$$"""{"features":{"input[0]":[{{{samples}}}]}}""");

        Assert.Equal(200, status);
        Assert.Equal("uploaded", (string?)report!["baseline"]);
        await SendAsync("trained", new Random(5), 0, 5); // live values in [0, 1), training in [5, 6)
        var (_, after) = await _server.GetAsync("/v2/admin/models/trained/drift");
        Assert.Equal("drifting", (string?)after!["state"]);
        Assert.Equal("input[0]", (string?)after["top_drifting"]![0]);
    }

    [Fact]
    public async Task UploadedBaseline_IsKeptInTheRegistry_AndSurvivesAReload()
    {
        await AddWatchedModelAsync("kept");
        string samples = string.Join(",", Enumerable.Range(0, 200).Select(i => (i / 200.0 + 5).ToString("R", CultureInfo.InvariantCulture)));
        Assert.Equal(200, (await _server.PostAsync("/v2/admin/models/kept/drift/baseline", $$$"""{"features":{"input[0]":[{{{samples}}}]}}""")).Status);

        // A reload builds a new session and a new drift monitor: the baseline must come back from the registry.
        Assert.Equal(200, (await _server.PostAsync("/v2/repository/models/kept/load", "")).Status);

        var (_, reloaded) = await _server.GetAsync("/v2/admin/models/kept/drift");
        Assert.Equal(("uploaded", 200L), ((string?)reloaded!["baseline"], (long)reloaded["baseline_rows"]!));
        await SendAsync("kept", new Random(6), 0, 5);
        var (_, after) = await _server.GetAsync("/v2/admin/models/kept/drift");
        Assert.Equal("drifting", (string?)after!["state"]);
    }

    public static TheoryData<string, string, int, string> BadBaselines => new()
    {
        { "trained2", "{\"features\":", 400, "malformed JSON" },
        { "trained2", "[]", 400, "features" },
        { "trained2", """{"features":{"nope[0]":[1,2,3,4,5,6,7,8,9,10]}}""", 400, "input[0]" },
        { "trained2", """{"features":{"input[0]":[1,2]}}""", 400, "at least 10 numbers" },
        { "trained2", """{"features":{"input[0]":["a","b","c","d","e","f","g","h","i","j"]}}""", 400, "numbers" },
        { "mlp", """{"features":{}}""", 409, "drift detection is off" },
        { "nope", """{"features":{}}""", 404, "nope" },
    };

    [Theory]
    [MemberData(nameof(BadBaselines))]
    public async Task BadBaseline_IsRefusedSayingWhy(string model, string body, int status, string message)
    {
        if (model == "trained2")
        {
            await AddWatchedModelAsync(model);
        }

        var (actual, response) = await _server.PostAsync($"/v2/admin/models/{model}/drift/baseline", body);

        Assert.Equal(status, actual);
        Assert.Contains(message, (string?)response!["error"]);
    }
}
