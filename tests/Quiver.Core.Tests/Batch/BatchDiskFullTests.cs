using System.Diagnostics;
using Quiver.Core.Batch;

namespace Quiver.Core.Tests.Batch;

/// <summary>
/// The disk fills up after some rows were written: a small tmpfs mounted for the test holds the output, the error file
/// and the checkpoint. The job must fail with the reason, leave a valid checkpoint, and <c>--resume</c> after space is
/// freed (the tmpfs grown) must finish with output identical to an uninterrupted run.
/// </summary>
public sealed class BatchDiskFullTests : IDisposable
{
    private readonly BatchFixture _files = new();
    private readonly string _mount;
    private bool _mounted;

    public BatchDiskFullTests()
    {
        _mount = _files.Path("small-disk");
        Directory.CreateDirectory(_mount);
    }

    public void Dispose()
    {
        if (_mounted)
        {
            Mount("umount", _mount);
        }

        _files.Dispose();
    }

    private static bool Mount(params string[] args)
    {
        try
        {
            using Process process = Process.Start(new ProcessStartInfo(args[0], args[1..]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [SkippableFact]
    public void Run_DiskFillsUpMidRun_FailsCleanly_AndResumeAfterFreeingSpaceGivesTheUninterruptedOutput()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && Environment.UserName == "root", "mounting a small tmpfs needs Linux and root");
        // 64 KiB holds a few hundred of the ~90-byte output rows: the disk is full well after the first batch.
        _mounted = Mount("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", _mount);
        Skip.IfNot(_mounted, "'mount -t tmpfs' failed here (no CAP_SYS_ADMIN in this container?)");

        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(8_000));
        string reference = _files.Path("reference.jsonl");
        BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = reference, BatchSize = 16 });
        Assert.True(new FileInfo(reference).Length > 4 * 64 * 1024, "the input must be larger than the small disk");
        string output = Path.Combine(_mount, "out.jsonl");
        var job = new BatchOptions { InputPath = input, OutputPath = output, BatchSize = 16, ChunkRows = 16, CheckpointInterval = TimeSpan.FromTicks(1) };

        var e = Assert.Throws<BatchException>(() => BatchFixture.Run(model, job));

        Assert.Equal(BatchErrorKind.Output, e.Kind);
        Assert.Contains("No space left on device", e.Message);
        Assert.Contains("--resume", e.Message);
        BatchCheckpoint left = BatchCheckpoint.Load(output + ".checkpoint.json");
        Assert.False(left.Completed);
        Assert.InRange(left.RowsProcessed, 16, 7_999);
        // Valid: the rows it claims are on the disk, byte for byte those of the uninterrupted run.
        byte[] written = File.ReadAllBytes(output);
        Assert.True(written.Length >= left.OutputLength, $"the checkpoint claims {left.OutputLength} bytes, the file has {written.Length}");
        Assert.Equal(File.ReadAllBytes(reference).AsSpan(0, (int)left.OutputLength).ToArray(), written.AsSpan(0, (int)left.OutputLength).ToArray());

        Assert.True(Mount("mount", "-o", "remount,size=4m", _mount), "could not grow the tmpfs");
        BatchResult resumed = BatchFixture.Run(model, job with { Resume = true });

        Assert.Equal(left.NextRow, resumed.ResumedAtRow);
        Assert.Equal(8_000, resumed.RowsWritten);
        Assert.Equal(File.ReadAllBytes(reference), File.ReadAllBytes(output));
    }
}
