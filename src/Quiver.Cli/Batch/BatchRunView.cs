using System.Globalization;
using Quiver.Core.Batch;
using Quiver.Onnx;
using Spectre.Console;

namespace Quiver.Cli.Batch;

/// <summary>What a person sees of a run: a progress bar on a terminal (nothing when redirected), then a summary.</summary>
public static class BatchRunView
{
    /// <summary>Loads the model and runs the job on its own thread, showing progress when stdout is a terminal.</summary>
    public static async Task<BatchResult> RunAsync(BatchOptions options, BatchModel model, SessionSettings settings,
        TextWriter output, CancellationToken cancellationToken)
    {
        using InferenceSession session = model.Load(settings);
        var runner = new BatchRunner(options, model, session);
        bool terminal = output == Console.Out && !Console.IsOutputRedirected;
        if (!terminal)
        {
            return await Task.Factory.StartNew(() => runner.Run(null, cancellationToken), cancellationToken,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        return await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                ProgressTask task = context.AddTask($"{Markup.Escape(model.Display)}: starting", maxValue: 1);
                long lastUpdate = 0;
                void Report(BatchProgress progress)
                {
                    // Redrawn about 4 times a second; every batch would flood the terminal with small writes.
                    long now = Environment.TickCount64;
                    if (now - lastUpdate < 250)
                    {
                        return;
                    }

                    lastUpdate = now;
                    task.MaxValue = Math.Max(1, progress.BytesTotal);
                    task.Value = progress.BytesDone;
                    double rate = progress.Elapsed.TotalSeconds > 0 ? progress.RowsThisRun / progress.Elapsed.TotalSeconds : 0;
                    task.Description = string.Create(CultureInfo.InvariantCulture,
                        $"{Markup.Escape(model.Display)}: {progress.RowsProcessed:N0} rows, {progress.RowsFailed:N0} failed, {rate:N0} rows/s");
                }

                BatchResult result = await Task.Factory.StartNew(() => runner.Run(Report, cancellationToken), cancellationToken,
                    TaskCreationOptions.LongRunning, TaskScheduler.Default);
                task.Description = string.Create(CultureInfo.InvariantCulture,
                    $"{Markup.Escape(model.Display)}: {result.RowsProcessed:N0} rows, {result.RowsFailed:N0} failed, {result.RowsPerSecond:N0} rows/s");
                task.Value = task.MaxValue;
                task.StopTask();
                return result;
            });
    }

    /// <summary>The final summary, one fact per line.</summary>
    public static void WriteSummary(TextWriter output, BatchResult result)
    {
        var culture = CultureInfo.InvariantCulture;
        if (result.AlreadyCompleted)
        {
            output.WriteLine($"already complete: checkpoint '{result.CheckpointPath}' marks the end of the input; nothing to do.");
        }

        output.WriteLine(string.Create(culture, $"rows        {result.RowsProcessed:N0}"));
        output.WriteLine(string.Create(culture, $"written     {result.RowsWritten:N0}  → {result.OutputPath}"));
        output.WriteLine(result.RowsFailed == 0
            ? "failed      0"
            : string.Create(culture, $"failed      {result.RowsFailed:N0}  → {result.ErrorsPath}"));
        if (result.ResumedAtRow is { } row && !result.AlreadyCompleted)
        {
            output.WriteLine(string.Create(culture, $"resumed     at row {row:N0}; this run did {result.RowsThisRun:N0} rows"));
        }

        if (!result.AlreadyCompleted)
        {
            output.WriteLine(string.Create(culture, $"elapsed     {result.Elapsed.TotalSeconds:F1} s"));
            output.WriteLine(string.Create(culture, $"throughput  {result.RowsPerSecond:N0} rows/s"));
        }
    }
}
