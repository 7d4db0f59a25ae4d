using System.Text.Json.Nodes;
using Quiver.Cli.Admin;
using Quiver.Cli.Optimize;
using Spectre.Console;

namespace Quiver.Cli.Models;

/// <summary>
/// <c>quiver models push --optimize MODE</c>: the model is optimized and checked here first, so nothing is pushed when
/// an accuracy limit fails; then the original is pushed as one version and the optimized model as the next, derived
/// from it (lineage) and carrying the optimization report.
/// </summary>
public static class OptimizedPush
{
    /// <summary>The modes <c>--optimize</c> accepts (int8-static needs calibration data: use <c>quiver optimize</c>).</summary>
    public static IReadOnlyList<string> Modes { get; } = ["int8-dynamic", "fp16", "graph"];

    /// <summary>What to optimize with and the limits that stop the push.</summary>
    public sealed record Request(string Mode, string? ValidationPath, double? MaxAccuracyDrop, double? MaxAbsDiff);

    /// <summary>Optimizes, pushes both versions, prints the result; the exit code of the push command.</summary>
    public static async Task<int> RunAsync(AdminInvocation run, PushRequest original, Request optimize, CancellationToken cancellationToken)
    {
        string folder = Directory.CreateTempSubdirectory("quiver-push-").FullName;
        try
        {
            string optimizedPath = Path.Combine(folder, "model.onnx");
            string reportPath = Path.Combine(folder, "report.json");
            // With --json the answer on stdout is JSON only; the report's tables go to stderr.
            IAnsiConsole console = run.Json ? AdminConsole.For(run.Error) : run.Console;
            int exit;
            try
            {
                OptimizeSettings settings = SettingsFor(optimize, original.FilePath, optimizedPath, reportPath);
                exit = await Task.Factory.StartNew(() => OptimizeRunner.Run(settings, console, run.Error, cancellationToken),
                    cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            }
            catch (OptimizeException e)
            {
                run.Error.WriteLine($"error: cannot optimize {original.FilePath}: {e.Message} Nothing was pushed.");
                return 1;
            }

            if (exit != 0)
            {
                run.Error.WriteLine("error: the optimized model moved more than the limits allow; nothing was pushed.");
                return 1;
            }

            using AdminClient client = run.OpenClient();
            // The alias (if any) goes to the optimized version: that is the one meant to serve.
            AdminReply<PushRecord> first = await client.PushAsync(original with { Alias = null }, cancellationToken);
            PushRequest derived = original with
            {
                FilePath = optimizedPath,
                DerivedFrom = first.Value.Version,
                OptimizationReport = AttachedReport(reportPath),
                Description = original.Description ?? $"{optimize.Mode} of version {first.Value.Version}",
                Tags = [.. original.Tags, optimize.Mode],
            };
            AdminReply<PushRecord> second = await client.PushAsync(derived, cancellationToken);
            Print(run, original.FilePath, optimize.Mode, first, second);
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    internal static OptimizeSettings SettingsFor(Request optimize, string model, string output, string report) => new()
    {
        ModelPath = model,
        OutputPath = output,
        ReportPath = report,
        Mode = optimize.Mode switch
        {
            "int8-dynamic" => OptimizeMode.Int8Dynamic,
            "fp16" => OptimizeMode.Fp16,
            "graph" => OptimizeMode.Graph,
            _ => throw new UsageException($"--optimize must be one of {string.Join(", ", Modes)}, got '{optimize.Mode}'."),
        },
        ValidationPath = optimize.ValidationPath,
        MaxAccuracyDrop = optimize.MaxAccuracyDrop,
        MaxAbsDiff = optimize.MaxAbsDiff,
        // Short: a push should not take long, and the figures are indicative (the full bench is quiver optimize's).
        BenchDuration = TimeSpan.FromSeconds(1),
    };

    // The report as the registry keeps it: compact, and without the temporary file name the optimized model had here.
    private static string AttachedReport(string reportPath)
    {
        JsonObject report = JsonNode.Parse(File.ReadAllText(reportPath))!.AsObject();
        report["output_model"] = null;
        return report.ToJsonString();
    }

    private static void Print(AdminInvocation run, string file, string mode, AdminReply<PushRecord> first, AdminReply<PushRecord> second)
    {
        if (run.Json)
        {
            var both = new JsonObject
            {
                ["original"] = JsonNode.Parse(first.Json),
                ["optimized"] = JsonNode.Parse(second.Json),
            };
            run.Out.WriteLine(both.ToJsonString());
            return;
        }

        foreach (string line in ChangeMessages.Pushed(first.Value, file))
        {
            run.Out.WriteLine(line);
        }

        foreach (string line in ChangeMessages.Pushed(second.Value, $"its {mode} optimization"))
        {
            run.Out.WriteLine(line);
        }

        run.Out.WriteLine($"{second.Value.Model} version {second.Value.Version} is derived from version {first.Value.Version}, with the optimization report attached.");
    }
}
