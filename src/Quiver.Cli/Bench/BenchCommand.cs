using System.CommandLine;

namespace Quiver.Cli.Bench;

/// <summary><c>quiver bench</c>: a load generator for KServe v2 servers, its models, and the in-process limit.</summary>
public static class BenchCommand
{
    /// <summary>The <c>bench</c> command with its subcommands models, run and raw.</summary>
    public static Command Create()
    {
        var command = new Command("bench", "Measure throughput and latency: against a server (run) or in-process (raw), on models it can build (models).");
        command.Subcommands.Add(BenchModelsCommand.Create());
        command.Subcommands.Add(BenchRunCommand.Create());
        command.Subcommands.Add(BenchRawCommand.Create());
        return command;
    }

    /// <summary>Runs a bench action, turning the user's mistakes into one line on stderr and exit code 1.</summary>
    public static async Task<int> GuardAsync(string name, Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (BenchException e)
        {
            await Console.Error.WriteLineAsync($"quiver bench {name}: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"quiver bench {name}: cancelled.");
            return 130;
        }
    }

    /// <summary>The format chosen by the mutually exclusive --json and --markdown flags.</summary>
    public static ReportFormat Format(bool json, bool markdown) => (json, markdown) switch
    {
        (true, true) => throw new BenchException("--json and --markdown cannot be used together."),
        (true, false) => ReportFormat.Json,
        (false, true) => ReportFormat.Markdown,
        _ => ReportFormat.Table,
    };
}
