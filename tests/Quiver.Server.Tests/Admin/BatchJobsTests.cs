using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Quiver.Core.Batch;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Admin;

/// <summary>Server-side batch jobs against a real server: submit, progress, download, cancel, and resume after a restart.</summary>
public sealed class BatchJobsTests : IAsyncLifetime
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(3);
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-batch-jobs-").FullName;
    private readonly string _dataDirectory = TestServer.NewDataDirectory();
    private TestServer? _server;

    private TestServer Server => _server!;

    public async Task InitializeAsync()
    {
        string folder = Path.Combine(_repository, "scorer", "1");
        Directory.CreateDirectory(folder);
        var random = new Random(4);
        float[,] w1 = new float[4, 8];
        float[,] w2 = new float[8, 3];
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < 8; j++)
            {
                w1[i, j] = (float)(random.NextDouble() - 0.5);
            }
        }

        for (int i = 0; i < 8; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                w2[i, j] = (float)(random.NextDouble() - 0.5);
            }
        }

        SampleModels.Mlp(w1, new float[8], w2, [0.1f, 0.2f, 0.3f]).Save(Path.Combine(folder, "model.onnx"));
        File.WriteAllText(Path.Combine(_repository, "scorer", "config.json"), """{ "max_batch_size": 64 }""");
        _server = await StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_repository, recursive: true);
        Directory.Delete(_dataDirectory, recursive: true);
    }

    private Task<TestServer> StartAsync() => TestServer.StartAsync(_repository, o => o with { DataDirectory = _dataDirectory });

    private string Csv(int rows, params int[] bad)
    {
        var random = new Random(9);
        var text = new StringBuilder("a,b,c,d\n");
        for (int r = 0; r < rows; r++)
        {
            text.AppendJoin(',', Enumerable.Range(0, 4).Select(f => bad.Contains(r) && f == 2 ? "x" : (random.NextDouble() * 4 - 2).ToString("F3", CultureInfo.InvariantCulture)));
            text.Append('\n');
        }

        string path = Path.Combine(_repository, $"in-{rows}.csv");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    /// <summary>What `quiver batch run` writes for the same rows with its own session: the reference.</summary>
    private string Reference(string input)
    {
        string output = Path.Combine(_repository, "reference.jsonl");
        string model = Path.Combine(_repository, "scorer", "1", "model.onnx");
        var file = BatchModel.Locate(model, null);
        using InferenceSession session = file.Load(new SessionSettings());
        new BatchRunner(new BatchOptions { InputPath = input, OutputPath = output, BatchSize = 64, Overwrite = true }, file, session)
            .Run(null, CancellationToken.None);
        return File.ReadAllText(output);
    }

    private async Task<JsonNode> WaitAsync(string id, Func<JsonNode, bool> until)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (true)
        {
            var (status, job) = await Server.GetAsync($"/v2/admin/batch/jobs/{id}");
            Assert.Equal(200, status);
            if (until(job!))
            {
                return job!;
            }

            Assert.True(DateTime.UtcNow < deadline, $"job never got there: {job!.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    private static bool Finished(JsonNode job) => (string?)job["state"] is "completed" or "failed" or "cancelled";

    [Fact]
    public async Task Submit_RunsToCompletion_WithTheSameOutputAsTheCli()
    {
        string input = Csv(300, bad: [7]);

        var (status, job) = await Server.PostAsync("/v2/admin/batch/jobs", $$"""{"model":"scorer","input":{{JsonValue.Create(input).ToJsonString()}}}""");

        Assert.True(status == 201, job?.ToJsonString());
        string id = (string)job!["id"]!;
        JsonNode done = await WaitAsync(id, Finished);
        Assert.True((string?)done["state"] == "completed", done.ToJsonString());
        Assert.Equal("scorer:1", (string?)done["model_version"]);
        Assert.Equal(300, (long)done["rows_processed"]!);
        Assert.Equal(1, (long)done["rows_failed"]!);
        using HttpResponseMessage output = await Server.Client.GetAsync($"/v2/admin/batch/jobs/{id}/output");
        Assert.Equal("application/x-ndjson", output.Content.Headers.ContentType?.MediaType);
        Assert.Equal(Reference(input), await output.Content.ReadAsStringAsync());
        string errors = await Server.Client.GetStringAsync($"/v2/admin/batch/jobs/{id}/errors");
        Assert.Contains("\"row\":7", errors);
        var (listed, list) = await Server.GetAsync("/v2/admin/batch/jobs");
        Assert.Equal(200, listed);
        Assert.Contains(list!["jobs"]!.AsArray(), j => (string?)j!["id"] == id);
    }

    [Fact]
    public async Task Upload_CsvBody_RunsLikeAFileOnTheServer()
    {
        string input = Csv(120);
        using var content = new StringContent(File.ReadAllText(input), Encoding.UTF8, "text/csv");

        using HttpResponseMessage response = await Server.Client.PostAsync("/v2/admin/batch/jobs?model=scorer&map=input=a,b,c,d", content);

        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == 201, text);
        string id = (string)JsonNode.Parse(text)!["id"]!;
        Assert.Equal("completed", (string?)(await WaitAsync(id, Finished))["state"]);
        Assert.Equal(Reference(input), await Server.Client.GetStringAsync($"/v2/admin/batch/jobs/{id}/output"));
    }

    [Fact]
    public async Task Upload_WithoutModelOrFormat_IsRefused()
    {
        using var noModel = new StringContent("a,b,c,d\n1,2,3,4\n", Encoding.UTF8, "text/csv");
        using var noFormat = new StringContent("a,b,c,d\n1,2,3,4\n", Encoding.UTF8, "text/plain");

        using HttpResponseMessage first = await Server.Client.PostAsync("/v2/admin/batch/jobs", noModel);
        using HttpResponseMessage second = await Server.Client.PostAsync("/v2/admin/batch/jobs?model=scorer", noFormat);

        Assert.Equal(400, (int)first.StatusCode);
        Assert.Equal(400, (int)second.StatusCode);
    }

    [Fact]
    public async Task Delete_CancelsARunningJob()
    {
        string input = Csv(20_000);
        var (_, job) = await Server.PostAsync("/v2/admin/batch/jobs",
            $$"""{"model":"scorer","input":{{JsonValue.Create(input).ToJsonString()}},"rows_per_second":2000}""");
        string id = (string)job!["id"]!;
        await WaitAsync(id, j => (long)j["rows_processed"]! > 0);

        using HttpResponseMessage deleted = await Server.Client.DeleteAsync($"/v2/admin/batch/jobs/{id}");

        Assert.Equal(200, (int)deleted.StatusCode);
        JsonNode after = await WaitAsync(id, Finished);
        Assert.Equal("cancelled", (string?)after["state"]);
        using HttpResponseMessage output = await Server.Client.GetAsync($"/v2/admin/batch/jobs/{id}/output");
        Assert.Equal(409, (int)output.StatusCode);
    }

    [Fact]
    public async Task RunningJob_SurvivesAServerRestart_AndFinishesWithTheSameOutput()
    {
        const int rows = 20_000;
        string input = Csv(rows);
        var (_, job) = await Server.PostAsync("/v2/admin/batch/jobs",
            $$"""{"model":"scorer","input":{{JsonValue.Create(input).ToJsonString()}},"rows_per_second":4000}""");
        string id = (string)job!["id"]!;
        JsonNode running = await WaitAsync(id, j => (long)j["rows_processed"]! > 0);
        Assert.Equal("running", (string?)running["state"]);

        await _server!.DisposeAsync();
        _server = null;
        _server = await StartAsync();

        JsonNode done = await WaitAsync(id, Finished);
        Assert.Equal("completed", (string?)done["state"]);
        Assert.Equal(rows, (long)done["rows_written"]!);
        // Resumed, not run again: the restarted job continued from its checkpoint, past the rows done before the stop.
        Assert.True(done["resumed_at_row"] is not null, done.ToJsonString());
        Assert.InRange((long)done["resumed_at_row"]!, (long)running["rows_processed"]!, rows - 1);
        Assert.Equal(Reference(input), await Server.Client.GetStringAsync($"/v2/admin/batch/jobs/{id}/output"));
    }

    private string OutputRoot => Path.Combine(_dataDirectory, "batch", "outputs");

    private Task<(int Status, JsonNode? Body)> SubmitWithOutput(string input, string output, bool overwrite = false) =>
        Server.PostAsync("/v2/admin/batch/jobs",
            $$"""{"model":"scorer","input":{{JsonValue.Create(input).ToJsonString()}},"output":{{JsonValue.Create(output).ToJsonString()}},"overwrite":{{(overwrite ? "true" : "false")}}}""");

    [Fact]
    public async Task Submit_WithOutputUnderTheRoot_WritesThere_AndAnExistingOneNeedsOverwrite()
    {
        string input = Csv(200);

        var (status, job) = await SubmitWithOutput(input, "nightly/scores.csv");

        Assert.True(status == 201, job?.ToJsonString());
        string expected = Path.Combine(OutputRoot, "nightly", "scores.csv");
        Assert.Equal(expected, (string?)job!["output_path"]);
        JsonNode done = await WaitAsync((string)job["id"]!, Finished);
        Assert.True((string?)done["state"] == "completed", done.ToJsonString());
        string written = File.ReadAllText(expected);
        Assert.StartsWith("row,", written);
        Assert.Equal(written, await Server.Client.GetStringAsync($"/v2/admin/batch/jobs/{(string)job["id"]!}/output"));

        var (again, refused) = await SubmitWithOutput(input, expected);
        Assert.Equal(400, again);
        Assert.Contains("exists; pass \"overwrite\": true", (string?)refused!["error"]);

        var (replaced, second) = await SubmitWithOutput(input, expected, overwrite: true);
        Assert.True(replaced == 201, second?.ToJsonString());
        Assert.Equal("completed", (string?)(await WaitAsync((string)second!["id"]!, Finished))["state"]);
        Assert.Equal(written, File.ReadAllText(expected));
    }

    [Fact]
    public async Task Submit_WithOutputOutsideTheRoot_IsRefused_EvenWithOverwrite()
    {
        string input = Csv(3);
        string outside = Path.Combine(_repository, "stolen.jsonl");
        Directory.CreateDirectory(OutputRoot);
        string link = Path.Combine(OutputRoot, "escape");
        Directory.CreateSymbolicLink(link, _repository);

        foreach (string output in new[] { outside, "../../registry.db", Path.Combine(_dataDirectory, "registry.db"), Path.Combine(link, "out.jsonl") })
        {
            var (status, error) = await SubmitWithOutput(input, output, overwrite: true);

            Assert.True(status == 400, $"{output}: {error?.ToJsonString()}");
            Assert.Contains(output.Contains("escape", StringComparison.Ordinal) ? "symbolic link" : "outside the allowed output root", (string?)error!["error"]);
        }

        Assert.False(File.Exists(outside));
        Assert.False(File.Exists(Path.Combine(_repository, "out.jsonl")));
    }

    [Fact]
    public async Task Upload_WithOutputInTheQuery_WritesThere()
    {
        using var content = new StringContent(File.ReadAllText(Csv(20)), Encoding.UTF8, "text/csv");

        using HttpResponseMessage response = await Server.Client.PostAsync("/v2/admin/batch/jobs?model=scorer&output=up/out.jsonl", content);

        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == 201, text);
        Assert.Equal("completed", (string?)(await WaitAsync((string)JsonNode.Parse(text)!["id"]!, Finished))["state"]);
        Assert.Equal(20, File.ReadAllLines(Path.Combine(OutputRoot, "up", "out.jsonl")).Length);
    }

    [Theory]
    [InlineData("""{"model":"nope","input":"INPUT"}""", 404, "nope")]
    [InlineData("""{"model":"scorer","input":"/no/such/file.csv"}""", 400, "does not exist on the server")]
    [InlineData("""{"model":"scorer"}""", 400, "\"input\"")]
    [InlineData("""{"model":"scorer","input":"INPUT","batch_size":500}""", 400, "max_batch_size 64")]
    public async Task Submit_BadJob_IsRefusedWithTheReason(string body, int status, string reason)
    {
        var (actual, error) = await Server.PostAsync("/v2/admin/batch/jobs", body.Replace("INPUT", Csv(3), StringComparison.Ordinal));

        Assert.Equal(status, actual);
        Assert.Contains(reason, (string?)error!["error"]);
    }

    [Fact]
    public async Task UnknownJob_Is404()
    {
        Assert.Equal(404, (await Server.GetAsync("/v2/admin/batch/jobs/nope")).Status);
    }
}
