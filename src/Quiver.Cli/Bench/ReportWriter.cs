using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Quiver.Cli.Bench;

/// <summary>How a report is printed: a table for people, JSON for scripts, Markdown for docs/benchmarks.md.</summary>
public enum ReportFormat
{
    /// <summary>A Spectre.Console table.</summary>
    Table,

    /// <summary>The report record as indented snake_case JSON.</summary>
    Json,

    /// <summary>A GitHub Markdown table of the same columns as <see cref="Table"/>.</summary>
    Markdown,
}

/// <summary>Prints bench reports in a <see cref="ReportFormat"/>.</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    private static readonly string[] s_runColumns =
    [
        "concurrency", "requests", "errors", "req/s", "infer/s", "p50 µs", "p90 µs", "p99 µs", "max µs",
        "queue µs", "input µs", "infer µs", "output µs", "avg batch",
    ];

    private static readonly string[] s_rawColumns = ["batch", "runs", "infer/s", "runs/s", "p50 µs", "p90 µs", "p99 µs", "max µs"];

    /// <summary>Prints a <c>bench run</c> report.</summary>
    public static void Write(RunReport report, ReportFormat format, TextWriter output)
    {
        string title = $"{report.Model}{(report.Version is null ? "" : " v" + report.Version)} over {report.Protocol} at {report.Url}, " +
            $"inputs {string.Join(", ", report.Inputs.Select(i => $"{i.Name} {i.Datatype} {ArgumentValues.FormatShape(i.Shape)}"))}";
        var rows = report.Levels.Select(RunRow).ToList();
        Write(report, title, s_runColumns, rows, format, output);
        if (format == ReportFormat.Json)
        {
            return;
        }

        // What the table has no room for: why requests failed, and the server's memory and allocations.
        foreach (LevelReport level in report.Levels)
        {
            if (level.FirstError is not null)
            {
                output.WriteLine($"concurrency {level.Concurrency}: {level.Errors} errors, the first: {level.FirstError}");
            }

            if (level.ServerRssKb is { } rss)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"concurrency {level.Concurrency}: server resident memory {rss.Before / 1024.0:0.0} MiB after warm-up, {rss.After / 1024.0:0.0} MiB after {level.ElapsedS:0.##} s ({Percent(rss.Before, rss.After)})"));
            }

            if (level.ServerGc is { } gc)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"concurrency {level.Concurrency}: server allocated {gc.BytesPerInference:0} bytes per inference ({gc.AllocatedBytes / 1048576.0:0.0} MiB in all), {gc.Gen2Collections} gen2 collections"));
            }
        }
    }

    /// <summary>Prints a <c>bench raw</c> report.</summary>
    public static void Write(RawReport report, ReportFormat format, TextWriter output)
    {
        string title = $"{report.ModelFile} in-process, {report.Sessions} session(s) × {report.Threads} intra-op thread(s)";
        var rows = report.Results.Select(r => new[]
        {
            Integer(r.BatchSize), Integer(r.Runs), Number(r.InferencesPerS), Number(r.RunsPerS),
            Micros(r.LatencyUs.P50), Micros(r.LatencyUs.P90), Micros(r.LatencyUs.P99), Micros(r.LatencyUs.Max),
        }).ToList();
        Write(report, title, s_rawColumns, rows, format, output);
    }

    private static void Write<T>(T report, string title, string[] columns, List<string[]> rows, ReportFormat format, TextWriter output)
    {
        switch (format)
        {
            case ReportFormat.Json:
                output.WriteLine(JsonSerializer.Serialize(report, s_json));
                break;
            case ReportFormat.Markdown:
                output.WriteLine(Markdown(columns, rows));
                break;
            default:
                WriteTable(title, columns, rows, output);
                break;
        }
    }

    private static string[] RunRow(LevelReport level)
    {
        ServerBreakdown? server = level.Server;
        return
        [
            Integer(level.Concurrency), Integer(level.Requests), Integer(level.Errors),
            Number(level.RequestsPerS), Number(level.InferencesPerS),
            Micros(level.LatencyUs.P50), Micros(level.LatencyUs.P90), Micros(level.LatencyUs.P99), Micros(level.LatencyUs.Max),
            server is null ? "-" : Micros(server.QueueUs),
            server is null ? "-" : Micros(server.ComputeInputUs),
            server is null ? "-" : Micros(server.ComputeInferUs),
            server is null ? "-" : Micros(server.ComputeOutputUs),
            server is null ? "-" : server.AvgBatchSize.ToString("0.00", CultureInfo.InvariantCulture),
        ];
    }

    private static void WriteTable(string title, string[] columns, List<string[]> rows, TextWriter output)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        if (output != Console.Out || Console.IsOutputRedirected)
        {
            // Redirected output has no terminal width; Spectre would assume 80 columns and wrap the table.
            console.Profile.Width = 200;
        }

        var table = new Table { Title = new TableTitle(Markup.Escape(title)) };
        foreach (string column in columns)
        {
            table.AddColumn(new TableColumn(new Text(column)).RightAligned());
        }

        foreach (string[] row in rows)
        {
            table.AddRow(row.Select(cell => (IRenderable)new Text(cell)).ToArray());
        }

        console.Write(table);
    }

    private static string Markdown(string[] columns, List<string[]> rows)
    {
        var text = new StringBuilder();
        text.Append("| ").AppendJoin(" | ", columns).Append(" |\n");
        text.Append('|').AppendJoin("", columns.Select(_ => "---:|")).Append('\n');
        foreach (string[] row in rows)
        {
            text.Append("| ").AppendJoin(" | ", row).Append(" |\n");
        }

        return text.ToString().TrimEnd('\n');
    }

    private static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);

    // Whole numbers from 100 up: decimals there are far below the run-to-run noise of a shared 2-core box.
    private static string Number(double value) => value >= 100
        ? Math.Round(value).ToString("0", CultureInfo.InvariantCulture)
        : value.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Micros(double value) => value >= 100
        ? value.ToString("0", CultureInfo.InvariantCulture)
        : value.ToString("0.0", CultureInfo.InvariantCulture);

    private static string Percent(long before, long after) =>
        before == 0 ? "n/a" : ((after - before) * 100.0 / before).ToString("+0.0;-0.0", CultureInfo.InvariantCulture) + " %";
}
