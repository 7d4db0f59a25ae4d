using System.CommandLine;

namespace Quiver.Cli.Bench;

/// <summary><c>quiver bench raw</c>: a model file run in-process through Quiver.Onnx, the limit for the server.</summary>
public static class BenchRawCommand
{
    /// <summary>The command and its options.</summary>
    public static Command Create()
    {
        var modelFile = new Option<string>("--model-file") { Description = "The ONNX model to run.", Required = true };
        var batch = new Option<string>("--batch")
        {
            Description = "Batch sizes to measure, comma-separated; each replaces the model's leading (batch) dimension.",
            DefaultValueFactory = _ => "1",
        };
        var threads = new Option<int>("--threads")
        {
            Description = "ONNX Runtime intra-op threads per session.",
            DefaultValueFactory = _ => 1,
        };
        var sessions = new Option<int>("--sessions")
        {
            Description = "Sessions running at once, each in a loop on its own thread.",
            DefaultValueFactory = _ => 1,
        };
        var duration = new Option<string>("--duration") { Description = "Measurement time per batch size (500ms, 5s, 1m).", DefaultValueFactory = _ => "5s" };
        var warmup = new Option<string>("--warmup") { Description = "Unmeasured run time before each batch size.", DefaultValueFactory = _ => "1s" };
        var seed = new Option<int>("--seed") { Description = "Seed of the random input data.", DefaultValueFactory = _ => 42 };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (schema in bench/README.md)." };
        var markdown = new Option<bool>("--markdown") { Description = "Print the report as a Markdown table." };

        var command = new Command("raw", "Run a model in-process (no server) at each batch size: the throughput a server can approach.")
        {
            modelFile, batch, threads, sessions, duration, warmup, seed, json, markdown,
        };
        command.SetAction((result, cancellationToken) => BenchCommand.GuardAsync("raw", async () =>
        {
            ReportFormat format = BenchCommand.Format(result.GetValue(json), result.GetValue(markdown));
            var settings = new RawSettings(
                result.GetValue(modelFile)!,
                ArgumentValues.PositiveIntegers(result.GetValue(batch)!, "--batch"),
                Positive(result.GetValue(threads), "--threads"),
                Positive(result.GetValue(sessions), "--sessions"),
                ArgumentValues.Duration(result.GetValue(duration)!, "--duration"),
                ArgumentValues.Duration(result.GetValue(warmup)!, "--warmup"),
                result.GetValue(seed));
            // Sessions run on their own threads; waiting here keeps the thread pool out of the measurement.
            RawReport report = await Task.Factory.StartNew(() => RawBench.Run(settings, cancellationToken), TaskCreationOptions.LongRunning);
            ReportWriter.Write(report, format, Console.Out);
            return 0;
        }));
        return command;
    }

    private static int Positive(int value, string option) =>
        value >= 1 ? value : throw new BenchException($"{option} must be at least 1, got {value}.");
}
