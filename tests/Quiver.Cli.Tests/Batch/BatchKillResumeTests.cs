using System.Text.Json;

namespace Quiver.Cli.Tests.Batch;

/// <summary>
/// A <c>quiver batch run</c> process killed (SIGKILL) in the middle of its input, then resumed: the output and error
/// file must equal those of an uninterrupted run byte for byte. No timing is asserted; the test only waits for events.
/// </summary>
public sealed class BatchKillResumeTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(5);
    private readonly BatchCliFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData("out.jsonl")]
    [InlineData("out.csv")]
    public async Task KilledMidRun_ResumeFinishesWithOutputIdenticalToAnUninterruptedRun(string name)
    {
        const int rows = 12_000;
        string model = _files.SmallMlp();
        string input = _files.Csv("in.csv", rows, 4, bad: [3, 5_000, 11_999]);
        string[] job = ["batch", "run", "--model", model, "--input", input, "--batch-size", "32", "--threads", "1", "--checkpoint-interval", "100ms"];

        // --rate makes the job last about 4 s on any machine, so there is a middle to kill it in.
        string[] slowJob = [.. job, "--rate", "3000"];
        string output = _files.Path(name);
        string checkpoint = output + ".checkpoint.json";

        using (QuiverProcess killed = QuiverProcess.Start([.. slowJob, "--output", output]))
        {
            long done = await WaitForCheckpointAsync(killed, checkpoint);
            Assert.InRange(done, 1, rows - 1);
        }

        // Dispose killed the process; the checkpoint it left must be an unfinished one.
        using (JsonDocument left = JsonDocument.Parse(File.ReadAllText(checkpoint)))
        {
            Assert.False(left.RootElement.GetProperty("completed").GetBoolean(), "the job finished before it was killed: make the input larger");
        }

        using QuiverProcess resumed = QuiverProcess.Start([.. slowJob, "--output", output, "--resume"]);
        Assert.Equal(3, await resumed.WaitForExitAsync(s_timeout));
        Assert.Contains("resumed     at row", resumed.Output);
        Assert.Contains("failed      3", resumed.Output);

        using QuiverProcess whole = QuiverProcess.Start([.. job, "--output", _files.Path("whole-" + name)]);
        Assert.Equal(3, await whole.WaitForExitAsync(s_timeout));

        Assert.Equal(File.ReadAllBytes(_files.Path("whole-" + name)), File.ReadAllBytes(output));
        Assert.Equal(File.ReadAllBytes(_files.Path("whole-" + name + ".errors.jsonl")), File.ReadAllBytes(output + ".errors.jsonl"));
        Assert.Equal(rows - 3 + (name.EndsWith(".csv", StringComparison.Ordinal) ? 1 : 0), File.ReadAllLines(output).Length);
    }

    [Fact]
    public async Task Sigterm_StopsAfterTheCurrentBatchWithExit130_AndResumeFinishesTheSameOutput()
    {
        const int rows = 12_000;
        string input = _files.Csv("in.csv", rows, 4, bad: [10]);
        string[] job = ["batch", "run", "--model", _files.SmallMlp(), "--input", input, "--threads", "1", "--checkpoint-interval", "100ms"];
        string output = _files.Path("out.jsonl");

        using (QuiverProcess stopped = QuiverProcess.Start([.. job, "--rate", "3000", "--output", output]))
        {
            await WaitForCheckpointAsync(stopped, output + ".checkpoint.json");
            stopped.Terminate();
            Assert.Equal(130, await stopped.WaitForExitAsync(s_timeout));
            Assert.Contains("interrupted: progress is checkpointed", stopped.Error);
        }

        using QuiverProcess resumed = QuiverProcess.Start([.. job, "--output", output, "--resume"]);
        Assert.Equal(3, await resumed.WaitForExitAsync(s_timeout));
        using QuiverProcess whole = QuiverProcess.Start([.. job, "--output", _files.Path("whole.jsonl")]);
        Assert.Equal(3, await whole.WaitForExitAsync(s_timeout));

        Assert.Equal(File.ReadAllBytes(_files.Path("whole.jsonl")), File.ReadAllBytes(output));
    }

    /// <summary>Waits until the running job has checkpointed some rows, and returns how many.</summary>
    private static async Task<long> WaitForCheckpointAsync(QuiverProcess process, string checkpoint)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                int code = await process.WaitForExitAsync(s_timeout);
                throw new Xunit.Sdk.XunitException(
                    $"the job ended (exit {code}) before it could be killed; checkpoint: {(File.Exists(checkpoint) ? File.ReadAllText(checkpoint) : "none")}\nstdout:\n{process.Output}\nstderr:\n{process.Error}");
            }

            try
            {
                using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(checkpoint));
                long done = doc.RootElement.GetProperty("rows_processed").GetInt64();
                if (done > 0)
                {
                    return done;
                }
            }
            catch (Exception e) when (e is IOException or JsonException)
            {
                // Not written yet (it is replaced by rename, so never torn).
            }

            await Task.Delay(20);
        }

        throw new Xunit.Sdk.XunitException("no checkpoint appeared");
    }
}
