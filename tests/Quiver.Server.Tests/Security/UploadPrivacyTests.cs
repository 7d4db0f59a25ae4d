using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// A batch job's uploaded input through a real server: sealed on disk while the job runs and after, so no sensitive
/// cell is found anywhere in the data directory or the log; the output is the same as from a file in clear; the job
/// resumes after a restart; a changed upload fails the job with the reason; the upload is gone once the job ends.
/// </summary>
public sealed class UploadPrivacyTests : IAsyncLifetime
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(3);

    // Distinctive: nothing else in a run could contain them by chance.
    private const string SsnPrefix = "SSN-UPLOAD-SECRET-";
    private const long IncomeBase = 8_806_143_000_000;
    private const string BadIncome = "INCOME-UPLOAD-SECRET-2718";
    private const string BadAge = "AGE-VISIBLE-UPLOAD-1618";

    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-upload-privacy-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("quiver-upload-privacy-inputs-").FullName;
    private readonly string _data = TestServer.NewDataDirectory();
    private TestServer? _server;

    public UploadPrivacyTests()
    {
        PrivacyTests.WritePrivateModel(_repository, """{"max_batch_size": 8, "sensitive_inputs": ["ssn", "income"]}""");
    }

    private TestServer Server => _server!;

    private string Log => Path.Combine(_outside, "server.log");

    private string Uploads => Path.Combine(_data, "batch", "uploads");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_repository, recursive: true);
        Directory.Delete(_outside, recursive: true);
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task UploadedJob_KeepsNoSensitiveCellInClear_WhileRunningAndAfter_AndWritesWhatAFileJobWrites()
    {
        _server = await StartAsync();
        string input = Csv("rows.csv", 300, badIncomeAt: [5, 150], badAgeAt: [7]);

        // Paced, so it is still running when the data directory is searched the first time.
        string id = await UploadAsync(input, "&rows_per_second=100");
        JsonNode running = await WaitAsync(id, j => (long)j["rows_processed"]! > 0);
        Assert.Equal("running", (string?)running["state"]);
        Assert.Single(Directory.GetFiles(Uploads));
        Assert.Empty(Find(SensitiveNeedles()));

        JsonNode done = await WaitAsync(id, Finished);
        Assert.True((string?)done["state"] == "completed", done.ToJsonString());
        Assert.Equal(3, (long)done["rows_failed"]!);
        Assert.Empty(Directory.GetFiles(Uploads));
        Assert.Empty(Find(SensitiveNeedles()));
        // The search looks where a leak would be: it finds the non-sensitive bad cell in the error file.
        Assert.Contains(Find(Encodings("bad age", BadAge)), f => f.Contains("errors", StringComparison.Ordinal));

        string fileJob = await SubmitFileAsync(input, "");
        Assert.Equal("completed", (string?)(await WaitAsync(fileJob, Finished))["state"]);
        Assert.Equal(await OutputAsync(fileJob), await OutputAsync(id));
        Assert.Equal(await ErrorsAsync(fileJob), await ErrorsAsync(id));
        Assert.Contains("hmac-sha256:", await ErrorsAsync(id));
    }

    [Fact]
    public async Task UploadedJob_ResumesAfterARestart_FromAChunkPastTheFirst_WithTheSameOutput()
    {
        const int rows = 6000; // about 300 KB: five 64 KiB chunks
        _server = await StartAsync();
        string input = Csv("big.csv", rows, badIncomeAt: [10, 4000], badAgeAt: []);
        string id = await UploadAsync(input, "&rows_per_second=1000");
        JsonNode running = await WaitAsync(id, j => (long)j["rows_processed"]! >= 2000);
        Assert.Equal("running", (string?)running["state"]);

        await _server.DisposeAsync();
        _server = null;
        Assert.Single(Directory.GetFiles(Uploads)); // kept while the job may still resume
        Assert.Empty(Find(SensitiveNeedles()));
        _server = await StartAsync();

        JsonNode done = await WaitAsync(id, Finished);
        Assert.True((string?)done["state"] == "completed", done.ToJsonString());
        Assert.True(done["resumed_at_row"] is not null, done.ToJsonString());
        Assert.InRange((long)done["resumed_at_row"]!, 2000, rows - 1);
        Assert.Equal(rows, (long)done["rows_processed"]!);
        Assert.Empty(Directory.GetFiles(Uploads));
        string fileJob = await SubmitFileAsync(input, "");
        Assert.Equal("completed", (string?)(await WaitAsync(fileJob, Finished))["state"]);
        Assert.Equal(await OutputAsync(fileJob), await OutputAsync(id));
        Assert.Equal(await ErrorsAsync(fileJob), await ErrorsAsync(id));
        Assert.Empty(Find(SensitiveNeedles()));
    }

    [Fact]
    public async Task ChangedUpload_FailsItsJobWithTheReason_AndACancelledQueuedUploadIsDeleted()
    {
        _server = await StartAsync();
        // A slow job in front, so the uploads wait in the queue while one is changed on disk and one is cancelled.
        string blocker = await SubmitFileAsync(Csv("blocker.csv", 20_000, [], []), ",\"rows_per_second\":100");
        string changed = await UploadAsync(Csv("changed.csv", 50, [], []), "");
        string cancelled = await UploadAsync(Csv("cancelled.csv", 50, [], []), "");
        string changedPath = await InputPathAsync(changed);
        string cancelledPath = await InputPathAsync(cancelled);
        Assert.StartsWith(Uploads, changedPath, StringComparison.Ordinal);
        Assert.Equal("queued", (string?)(await Server.GetAsync($"/v2/admin/batch/jobs/{changed}")).Body!["state"]);
        using (var file = new FileStream(changedPath, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 44 + 100; // inside the first chunk's ciphertext
            int value = file.ReadByte();
            file.Position = 44 + 100;
            file.WriteByte((byte)(value ^ 0x01));
        }

        using (HttpResponseMessage cancel = await Server.Client.DeleteAsync($"/v2/admin/batch/jobs/{cancelled}"))
        {
            Assert.Equal(200, (int)cancel.StatusCode);
        }

        Assert.False(File.Exists(cancelledPath));
        using (HttpResponseMessage cancel = await Server.Client.DeleteAsync($"/v2/admin/batch/jobs/{blocker}"))
        {
            Assert.Equal(200, (int)cancel.StatusCode);
        }

        JsonNode failed = await WaitAsync(changed, Finished);
        Assert.True((string?)failed["state"] == "failed", failed.ToJsonString());
        Assert.Contains("chunk 0", (string?)failed["error"]);
        Assert.Contains("fails authentication", (string?)failed["error"]);
        Assert.False(File.Exists(changedPath));
        Assert.Equal("cancelled", (string?)(await Server.GetAsync($"/v2/admin/batch/jobs/{cancelled}")).Body!["state"]);
        Assert.Equal(200, (await Server.GetAsync("/v2/health/live")).Status);
    }

    private async Task<TestServer> StartAsync()
    {
        QuiverServer server = await QuiverServer.StartAsync(new QuiverServerOptions
        {
            ModelRepository = _repository, HttpPort = 0, GrpcPort = 0, MetricsPort = 0, DataDirectory = _data,
        }, logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(new FileLoggerProvider(Log)));
        return TestServer.Wrap(server, _data);
    }

    // ssn, income, age; rows in badIncomeAt have a sensitive cell that is not a number, rows in badAgeAt a non-sensitive one.
    private string Csv(string name, int rows, int[] badIncomeAt, int[] badAgeAt)
    {
        var text = new StringBuilder("ssn,income,age\n");
        for (int r = 0; r < rows; r++)
        {
            string income = badIncomeAt.Contains(r) ? BadIncome : (IncomeBase + r).ToString(CultureInfo.InvariantCulture);
            string age = badAgeAt.Contains(r) ? BadAge : (r % 90).ToString(CultureInfo.InvariantCulture);
            text.Append(CultureInfo.InvariantCulture, $"{SsnPrefix}{r:D6},{income},{age}\n");
        }

        string path = Path.Combine(_outside, name);
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private async Task<string> UploadAsync(string input, string query)
    {
        using var content = new StringContent(File.ReadAllText(input), Encoding.UTF8, "text/csv");
        using HttpResponseMessage response = await Server.Client.PostAsync($"/v2/admin/batch/jobs?model=private{query}", content);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == 201, text);
        return (string)JsonNode.Parse(text)!["id"]!;
    }

    private async Task<string> SubmitFileAsync(string input, string extra)
    {
        var (status, job) = await Server.PostAsync("/v2/admin/batch/jobs",
            $$"""{"model":"private","input":{{JsonValue.Create(input).ToJsonString()}}{{extra}}}""");
        Assert.True(status == 201, job?.ToJsonString());
        return (string)job!["id"]!;
    }

    private async Task<string> InputPathAsync(string id) => (string)(await Server.GetAsync($"/v2/admin/batch/jobs/{id}")).Body!["spec"]!["input"]!;

    private Task<string> OutputAsync(string id) => Server.Client.GetStringAsync($"/v2/admin/batch/jobs/{id}/output");

    private Task<string> ErrorsAsync(string id) => Server.Client.GetStringAsync($"/v2/admin/batch/jobs/{id}/errors");

    private async Task<JsonNode> WaitAsync(string id, Func<JsonNode, bool> until)
    {
        JsonNode? job = null;
        for (DateTime deadline = DateTime.UtcNow + s_timeout; DateTime.UtcNow < deadline;)
        {
            job = (await Server.GetAsync($"/v2/admin/batch/jobs/{id}")).Body;
            if (job is not null && (until(job) || Finished(job)))
            {
                return job;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"job {id} did not get there: {job?.ToJsonString()}");
    }

    private static bool Finished(JsonNode job) => (string?)job["state"] is "completed" or "failed" or "cancelled";

    private static IEnumerable<(string Name, byte[] Bytes)> SensitiveNeedles() =>
        Encodings("ssn", SsnPrefix)
            .Concat(Encodings("first ssn", SsnPrefix + "000000"))
            .Concat(Encodings("bad income", BadIncome))
            .Concat(Encodings("first income", IncomeBase.ToString(CultureInfo.InvariantCulture)))
            .Append(("income prefix", Encoding.ASCII.GetBytes((IncomeBase / 1_000_000).ToString(CultureInfo.InvariantCulture))));

    private static IEnumerable<(string Name, byte[] Bytes)> Encodings(string name, string value) => ClearTextSearch.Encodings(name, value);

    // "needle in file" for every needle found in any file under the data directory, or in the log.
    private string[] Find(IEnumerable<(string Name, byte[] Bytes)> needles) =>
        ClearTextSearch.Find([.. Directory.EnumerateFiles(_data, "*", SearchOption.AllDirectories), .. new[] { Log }.Where(File.Exists)], needles);
}
