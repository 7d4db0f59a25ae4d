namespace Quiver.Core.Batch;

/// <summary>A progress report, sent after every batch.</summary>
/// <param name="BytesDone">Input bytes consumed so far (the input offset).</param>
/// <param name="BytesTotal">The input's size.</param>
/// <param name="RowsProcessed">This shard's rows done, earlier runs of a resumed job included.</param>
/// <param name="RowsFailed">Of those, rows that went to the error file.</param>
/// <param name="RowsThisRun">Rows done by this run, for its rate.</param>
/// <param name="Elapsed">Time since this run started.</param>
public readonly record struct BatchProgress(long BytesDone, long BytesTotal, long RowsProcessed, long RowsFailed, long RowsThisRun, TimeSpan Elapsed);

/// <summary>How a job ended. Counts cover the whole job, earlier runs of a resumed job included.</summary>
public sealed record BatchResult
{
    public required long RowsProcessed { get; init; }

    public required long RowsWritten { get; init; }

    public required long RowsFailed { get; init; }

    /// <summary>Rows done by this run (less than <see cref="RowsProcessed"/> after a resume).</summary>
    public required long RowsThisRun { get; init; }

    public required TimeSpan Elapsed { get; init; }

    /// <summary>The row index this run continued from, when it resumed from a checkpoint.</summary>
    public long? ResumedAtRow { get; init; }

    /// <summary>True when --resume found the job already finished and did nothing.</summary>
    public bool AlreadyCompleted { get; init; }

    public required string OutputPath { get; init; }

    public required string ErrorsPath { get; init; }

    public required string CheckpointPath { get; init; }

    /// <summary>This run's rows per second.</summary>
    public double RowsPerSecond => Elapsed.TotalSeconds > 0 ? RowsThisRun / Elapsed.TotalSeconds : 0;
}
