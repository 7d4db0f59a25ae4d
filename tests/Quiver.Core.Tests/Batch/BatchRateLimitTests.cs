using Quiver.Core.Batch;
using Quiver.Onnx;

namespace Quiver.Core.Tests.Batch;

/// <summary>--rate, on a clock whose delays pass at once, so the test takes no real time.</summary>
public sealed class BatchRateLimitTests : IDisposable
{
    private readonly BatchFixture _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Run_RowsPerSecondLimit_SpreadsTheRowsOverTheTimeTheRateAllows()
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(1000));
        var clock = new SkippingClock();
        var file = BatchModel.Locate(model, null);
        using InferenceSession session = file.Load(new SessionSettings { IntraOpThreads = 1 });

        BatchResult result = new BatchRunner(
            new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), BatchSize = 50, RowsPerSecondLimit = 100 }, file, session, clock)
            .Run(null, CancellationToken.None);

        Assert.Equal(1000, result.RowsWritten);
        // 1000 rows at 100 rows/s: the last batch may start at 9.5 s; the clock only moves when the job waits.
        Assert.InRange(result.Elapsed.TotalSeconds, 9.5, 10.5);
    }

    [Fact]
    public void Run_InterruptedWhileABatchIsBeingWritten_CheckpointsThatBatch_WithoutWaitingForTheRate()
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(200));
        var file = BatchModel.Locate(model, null);
        using InferenceSession session = file.Load(new SessionSettings { IntraOpThreads = 1 });
        using var stop = new CancellationTokenSource();
        // The fifth run is stopped (a server shutting down) while the fourth batch's results are still being written.
        var engine = new StoppingEngine(new SessionEngine(session), stop, stopAtRun: 5);
        var options = new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), BatchSize = 10, RowsPerSecondLimit = 100 };

        Assert.ThrowsAny<OperationCanceledException>(() => new BatchRunner(options, file, engine, new SkippingClock()).Run(null, stop.Token));

        BatchCheckpoint checkpoint = BatchCheckpoint.Load(options.ResolvedCheckpointPath);
        Assert.Equal(40, checkpoint.NextRow);
        Assert.Equal(40, File.ReadLines(options.OutputPath).Count());
    }

    /// <summary>Runs batches through an engine until run <c>stopAtRun</c>, which cancels and throws as a cancelled scheduler call does.</summary>
    private sealed class StoppingEngine(IBatchEngine inner, CancellationTokenSource stop, int stopAtRun) : IBatchEngine
    {
        private int _runs;

        public IReadOnlyList<TensorInfo> Inputs => inner.Inputs;

        public IReadOnlyList<TensorInfo> Outputs => inner.Outputs;

        public int MaxBatchSize => inner.MaxBatchSize;

        public TensorValue[] Run(IReadOnlyList<NamedTensor> inputs, OutputMemory? outputMemory, CancellationToken cancellationToken)
        {
            if (++_runs == stopAtRun)
            {
                stop.Cancel();
                cancellationToken.ThrowIfCancellationRequested();
            }

            return inner.Run(inputs, outputMemory, cancellationToken);
        }
    }

    /// <summary>A fake clock: every timer fires at once, moving the clock forward by its due time.</summary>
    private sealed class SkippingClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(GetTimestamp());

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                Interlocked.Add(ref _ticks, dueTime.Ticks);
                ThreadPool.QueueUserWorkItem(_ => callback(state));
            }

            return new NoTimer();
        }

        private sealed class NoTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
