using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Quiver.Cli.Tests.Batch;

/// <summary>
/// A <c>quiver serve</c> process killed (SIGKILL, no graceful stop) while it runs a batch job, then started again on
/// the same data directory: the job must resume from its last periodic checkpoint, not start again at row 0, and
/// finish with the output <c>quiver batch run</c> writes. No timing is asserted; the test waits for events.
/// </summary>
public sealed class BatchServerKillTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(5);
    private readonly BatchCliFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task ServerKilledMidJob_RestartResumesFromTheCheckpoint_WithTheUninterruptedOutput()
    {
        const int rows = 20_000;
        string repository = _files.Repository("scorer", _files.SmallMlp());
        File.WriteAllText(Path.Combine(repository, "scorer", "config.json"), """{ "max_batch_size": 64 }""");
        string input = _files.Csv("in.csv", rows, 4);
        string data = _files.Path("data");
        string id;
        long checkpointed;

        using (QuiverProcess killed = Serve(repository, data, out HttpClient client))
        using (client)
        {
            // 2,000 rows/s: about 10 s of work, past the server's first periodic checkpoint (5 s) with rows to spare.
            string body = $$"""{"model":"scorer","input":{{JsonValue.Create(input).ToJsonString()}},"rows_per_second":2000}""";
            using HttpResponseMessage submitted = await client.PostAsync("/v2/admin/batch/jobs", new StringContent(body, Encoding.UTF8, "application/json"));
            string text = await submitted.Content.ReadAsStringAsync();
            Assert.True(submitted.StatusCode == HttpStatusCode.Created, text);
            id = (string)JsonNode.Parse(text)!["id"]!;
            checkpointed = await WaitForCheckpointAsync(killed, Path.Combine(data, "batch", id, "output.jsonl.checkpoint.json"));
        }

        // Dispose killed the server. Its checkpoint is an unfinished one: the job is resumed, never re-run from row 0.
        Assert.InRange(checkpointed, 1, rows - 1);
        using (QuiverProcess restarted = Serve(repository, data, out HttpClient client))
        using (client)
        {
            JsonNode done = await WaitForJobAsync(client, id);
            Assert.True((string?)done["state"] == "completed", done.ToJsonString());
            Assert.Equal(checkpointed, (long?)done["resumed_at_row"]);
            Assert.Equal(rows, (long)done["rows_written"]!);
            string output = await client.GetStringAsync($"/v2/admin/batch/jobs/{id}/output");

            using QuiverProcess reference = QuiverProcess.Start("batch", "run", "--model", Path.Combine(repository, "scorer", "1", "model.onnx"),
                "--input", input, "--output", _files.Path("reference.jsonl"), "--batch-size", "64", "--threads", "1");
            Assert.Equal(0, await reference.WaitForExitAsync(s_timeout));
            Assert.Equal(File.ReadAllText(_files.Path("reference.jsonl")), output);
        }
    }

    private static QuiverProcess Serve(string repository, string data, out HttpClient client)
    {
        int port = FreePort();
        QuiverProcess server = QuiverProcess.Start("serve", "--model-repository", repository, "--data-dir", data,
            "--http-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", "0", "--metrics-port", "0");
        server.WaitForOutputAsync("listening on", s_timeout).GetAwaiter().GetResult();
        client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        return server;
    }

    /// <summary>Waits until the job's checkpoint records rows, and returns the row it would resume from.</summary>
    private static async Task<long> WaitForCheckpointAsync(QuiverProcess server, string checkpoint)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (DateTime.UtcNow < deadline && !server.HasExited)
        {
            try
            {
                JsonNode state = JsonNode.Parse(File.ReadAllText(checkpoint))!;
                Assert.False((bool)state["completed"]!, "the job finished before the server could be killed: make the input larger");
                if ((long)state["next_row"]! > 0)
                {
                    return (long)state["next_row"]!;
                }
            }
            catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
            {
                // Not written yet (it is replaced by rename, so never torn).
            }

            await Task.Delay(20);
        }

        throw new Xunit.Sdk.XunitException($"no checkpoint with rows appeared.\nstdout:\n{server.Output}\nstderr:\n{server.Error}");
    }

    private static async Task<JsonNode> WaitForJobAsync(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (true)
        {
            JsonNode job = JsonNode.Parse(await client.GetStringAsync($"/v2/admin/batch/jobs/{id}"))!;
            if ((string?)job["state"] is "completed" or "failed" or "cancelled")
            {
                return job;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the job never finished: {job.ToJsonString()}");
            await Task.Delay(100);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
