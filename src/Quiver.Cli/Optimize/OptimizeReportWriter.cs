using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace Quiver.Cli.Optimize;

/// <summary>Prints the optimize report as tables for people and writes it as JSON for scripts.</summary>
public static class OptimizeReportWriter
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        // A NaN that appears on one side only makes a difference of Infinity; JSON has no literal for it otherwise.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The report as indented snake_case JSON.</summary>
    public static string ToJson(OptimizeReport report) => JsonSerializer.Serialize(report, s_json);

    /// <summary>Prints the report's tables to <paramref name="console"/>.</summary>
    public static void Write(OptimizeReport report, IAnsiConsole console)
    {
        string options = report.Options.Count == 0 ? "" : " (" + string.Join(", ", report.Options.Select(o => $"{o.Key} {o.Value}")) + ")";
        console.MarkupLineInterpolated($"[bold]quiver optimize {report.Mode}[/]{options}: {report.InputModel} → {report.OutputModel}");

        var model = new Table().Title("Model").AddColumns("", "original", "optimized", "ratio");
        model.AddRow("size", Bytes(report.InputBytes), Bytes(report.OutputBytes), Percent(report.SizeRatio));
        model.AddRow("nodes rewritten", "", Integer(report.ChangedNodes.Count), "");
        model.AddRow("nodes skipped", "", Integer(report.SkippedNodes.Count), "");
        console.Write(model);
        foreach (var skipped in report.SkippedNodes)
        {
            console.MarkupLineInterpolated($"  skipped {skipped.Node} ({skipped.OpType}): {skipped.Reason}");
        }

        if (report.Accuracy is { } accuracy)
        {
            string source = accuracy.Source == "generated" ? "generated inputs" : accuracy.Source;
            var table = new Table()
                .Title($"Accuracy: {Integer(accuracy.Samples)} samples from {Markup.Escape(source)}, batches of {Integer(accuracy.BatchSize)}")
                .AddColumns("output", "max abs diff", "mean abs diff", "max |original|", "top-1 agreement");
            foreach (OutputAccuracy output in accuracy.Outputs)
            {
                table.AddRow(Markup.Escape(output.Name), Number(output.MaxAbsDiff), Number(output.MeanAbsDiff), Number(output.MaxAbsOriginal),
                    output.Top1Agreement is { } top1 ? Percent(top1) : "n/a");
            }

            console.Write(table);
        }

        if (report.Speed is { } speed)
        {
            string load = speed.LoadAverageBefore is { } before
                ? $", load average {Number(before[0])} before / {Number(speed.LoadAverageAfter?[0] ?? double.NaN)} after"
                : "";
            var table = new Table()
                .Title($"Speed in-process, original → optimized: {Number(speed.DurationS)} s per model and batch, {(speed.Threads == 0 ? "ORT's default" : Integer(speed.Threads))} threads, {Integer(speed.Processors)} CPUs{load}")
                .AddColumns("batch", "infer/s", "speedup", "p50 µs", "p99 µs");
            foreach (SpeedLevel level in speed.Levels)
            {
                table.AddRow(Integer(level.BatchSize), Pair(level.Original.InferencesPerS, level.Optimized.InferencesPerS),
                    Number(level.Speedup) + "×", Pair(level.Original.LatencyUs.P50, level.Optimized.LatencyUs.P50),
                    Pair(level.Original.LatencyUs.P99, level.Optimized.LatencyUs.P99));
            }

            console.Write(table);
        }

        LimitReport limits = report.Limits;
        if (limits.MaxAccuracyDrop is not null || limits.MaxAbsDiff is not null)
        {
            console.MarkupLine(limits.Passed ? "[green]accuracy limits: passed[/]" : "[red]accuracy limits: exceeded[/]");
        }

        foreach (string failure in limits.Failures)
        {
            console.MarkupLineInterpolated($"  [red]{failure}[/]");
        }
    }

    private static string Pair(double original, double optimized) => $"{Number(original)} → {Number(optimized)}";

    private static string Integer(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.00} MiB"),
        >= 1 << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        _ => $"{bytes} B",
    };

    private static string Percent(double fraction) => string.Create(CultureInfo.InvariantCulture, $"{fraction * 100:0.##}%");

    /// <summary>Three significant digits, without exponent for everyday magnitudes.</summary>
    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "∞",
        _ when double.IsNaN(value) => "n/a",
        0 => "0",
        _ when Math.Abs(value) >= 100 => value.ToString("N0", CultureInfo.InvariantCulture),
        _ when Math.Abs(value) >= 0.001 => value.ToString("0.###", CultureInfo.InvariantCulture),
        _ => value.ToString("0.##e0", CultureInfo.InvariantCulture),
    };
}
