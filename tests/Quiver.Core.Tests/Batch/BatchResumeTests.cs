using Quiver.Core.Batch;

namespace Quiver.Core.Tests.Batch;

/// <summary>Checkpoints: an interrupted job resumes exactly where it stopped, and a checkpoint of another job is refused.</summary>
public sealed class BatchResumeTests : IDisposable
{
    private readonly BatchFixture _files = new();

    public void Dispose() => _files.Dispose();

    private BatchOptions Job(string input, string output) => new()
    {
        InputPath = input, OutputPath = output, BatchSize = 16, ChunkRows = 16, CheckpointInterval = TimeSpan.FromTicks(1),
    };

    /// <summary>Runs until <paramref name="rows"/> rows are done, then cancels, as Ctrl+C would.</summary>
    private static void RunUntil(string model, BatchOptions options, long rows)
    {
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => BatchFixture.Run(model, options, p =>
        {
            if (p.RowsProcessed >= rows)
            {
                cts.Cancel();
            }
        }, cts.Token));
    }

    [Theory]
    [InlineData("out.jsonl")]
    [InlineData("out.csv")]
    public void Resume_AfterInterruptAndTornWrites_OutputIsIdenticalToAnUninterruptedRun(string name)
    {
        string model = _files.Mlp();
        float[][] rows = BatchFixture.RandomRows(500);
        List<string> lines = File.ReadAllLines(_files.Csv("clean.csv", rows)).ToList();
        lines.Insert(100, "x,1,2,3");
        string input = _files.Text("in.csv", string.Join("\n", lines) + "\n");
        string reference = _files.Path("reference-" + name);
        string output = _files.Path(name);
        BatchFixture.Run(model, Job(input, reference));

        RunUntil(model, Job(input, output), rows: 200);
        BatchCheckpoint stopped = BatchCheckpoint.Load(output + ".checkpoint.json");
        Assert.False(stopped.Completed);
        Assert.InRange(stopped.RowsProcessed, 200, 499);
        // A crash after the checkpoint leaves rows and errors it does not cover: resuming must drop them.
        File.AppendAllText(output, "{\"row\":9999,\"torn");
        File.AppendAllText(output + ".errors.jsonl", "{\"row\":9999}\n");

        BatchResult resumed = BatchFixture.Run(model, Job(input, output) with { Resume = true });

        Assert.Equal(stopped.NextRow, resumed.ResumedAtRow);
        Assert.Equal(501, resumed.RowsProcessed);
        Assert.Equal(1, resumed.RowsFailed);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));
        Assert.Equal(File.ReadAllBytes(reference + ".errors.jsonl"), File.ReadAllBytes(output + ".errors.jsonl"));
    }

    [Fact]
    public void Resume_CompletedJob_DoesNothing()
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(10));
        BatchFixture.Run(model, Job(input, _files.Path("out.jsonl")));
        byte[] before = File.ReadAllBytes(_files.Path("out.jsonl"));

        BatchResult again = BatchFixture.Run(model, Job(input, _files.Path("out.jsonl")) with { Resume = true });

        Assert.True(again.AlreadyCompleted);
        Assert.Equal(10, again.RowsWritten);
        Assert.Equal(before, File.ReadAllBytes(_files.Path("out.jsonl")));
    }

    [Fact]
    public void Resume_KilledBeforeItsFirstPeriodicCheckpoint_StartsOver()
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(50));
        BatchFixture.Run(model, Job(input, _files.Path("reference.jsonl")));
        string output = _files.Path("out.jsonl");
        // What a job killed at once leaves: the starting checkpoint, and rows it never recorded.
        var slow = Job(input, output) with { CheckpointInterval = TimeSpan.FromDays(1) };
        string first = _files.Path("first-checkpoint.json");
        using (var cts = new CancellationTokenSource())
        {
            Assert.ThrowsAny<OperationCanceledException>(() => BatchFixture.Run(model, slow, p =>
            {
                if (!File.Exists(first))
                {
                    File.Copy(output + ".checkpoint.json", first);
                }

                if (p.RowsProcessed >= 20)
                {
                    cts.Cancel();
                }
            }, cts.Token));
        }

        // The interrupt wrote a checkpoint; a kill would not have: put the starting one back.
        File.Copy(first, output + ".checkpoint.json", overwrite: true);
        Assert.Equal(0, BatchCheckpoint.Load(output + ".checkpoint.json").RowsProcessed);
        File.AppendAllText(output, "{\"row\":0,\"half");

        BatchResult resumed = BatchFixture.Run(model, slow with { Resume = true });

        Assert.Equal(50, resumed.RowsWritten);
        Assert.Equal(File.ReadAllBytes(_files.Path("reference.jsonl")), File.ReadAllBytes(output));
    }

    [Fact]
    public void Resume_WithoutCheckpoint_StartsFreshWhenThereIsNoOutput()
    {
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(10));

        BatchResult result = BatchFixture.Run(_files.Mlp(), Job(input, _files.Path("out.jsonl")) with { Resume = true });

        Assert.Null(result.ResumedAtRow);
        Assert.Equal(10, result.RowsWritten);
    }

    [Fact]
    public void Resume_CheckpointOfAnotherInput_IsRefusedWithTheReason()
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(100));
        RunUntil(model, Job(input, _files.Path("out.jsonl")), rows: 20);
        _files.Csv("in.csv", BatchFixture.RandomRows(100, seed: 99));

        var e = Assert.Throws<BatchException>(() => BatchFixture.Run(model, Job(input, _files.Path("out.jsonl")) with { Resume = true }));

        Assert.Equal(BatchErrorKind.Checkpoint, e.Kind);
        Assert.Contains("it was written for a different input", e.Message);
    }

    [Fact]
    public void Resume_CheckpointOfAnotherModel_IsRefusedWithTheReason()
    {
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(100));
        RunUntil(_files.Mlp("first", seed: 1), Job(input, _files.Path("out.jsonl")), rows: 20);

        var e = Assert.Throws<BatchException>(() =>
            BatchFixture.Run(_files.Mlp("second", seed: 2), Job(input, _files.Path("out.jsonl")) with { Resume = true }));

        Assert.Equal(BatchErrorKind.Checkpoint, e.Kind);
        Assert.Contains("it was written for a different model", e.Message);
    }

    [Fact]
    public void Resume_CheckpointOfAnotherShard_IsRefusedWithTheReason()
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(100));
        RunUntil(model, Job(input, _files.Path("out.jsonl")) with { Shard = new ShardSpec(0, 2) }, rows: 20);

        var e = Assert.Throws<BatchException>(() =>
            BatchFixture.Run(model, Job(input, _files.Path("out.jsonl")) with { Resume = true, Shard = new ShardSpec(1, 2) }));

        Assert.Contains("it was written with --shard 0/2, this run has 1/2", e.Message);
    }

    [SkippableFact]
    public void Run_DiskFull_FailsWithTheReasonAndNoCheckpointClaimsUnwrittenRows()
    {
        Skip.IfNot(File.Exists("/dev/full"), "needs Linux's /dev/full, where every write fails with ENOSPC");
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(100));
        string checkpoint = _files.Path("job.checkpoint.json");

        var e = Assert.Throws<BatchException>(() => BatchFixture.Run(_files.Mlp(), Job(input, "/dev/full") with
        {
            Overwrite = true, ErrorsPath = _files.Path("errors.jsonl"), CheckpointPath = checkpoint,
        }));

        Assert.Equal(BatchErrorKind.Output, e.Kind);
        Assert.StartsWith("writing the output failed: No space left on device", e.Message);
        Assert.Equal(0, BatchCheckpoint.Load(checkpoint).RowsProcessed);
    }

    [Fact]
    public void Resume_OutputTruncatedBelowTheCheckpoint_IsRefused()
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(100));
        RunUntil(model, Job(input, _files.Path("out.jsonl")), rows: 40);
        File.WriteAllText(_files.Path("out.jsonl"), "");

        var e = Assert.Throws<BatchException>(() => BatchFixture.Run(model, Job(input, _files.Path("out.jsonl")) with { Resume = true }));

        Assert.Contains("is shorter", e.Message);
    }
}
