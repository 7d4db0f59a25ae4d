using System.CommandLine;
using Quiver.Cli.Admin;
using Spectre.Console;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models show NAME [VERSION]</c>: a model's versions, replicas and recent alias changes, or one version in full.</summary>
public static class ModelsShowCommand
{
    /// <summary>The command, its arguments and options; <paramref name="options"/> are the group's shared --server and --json.</summary>
    public static Command Create(AdminOptions options)
    {
        Argument<string> name = ModelArguments.Name();
        Argument<int?> version = ModelArguments.OptionalVersion("A version to show in full: hash, lineage and signature.");
        var command = new Command("show", "Show a model (versions, replicas, recent alias changes) or one version of it.") { name, version };
        command.Action = new AdminAction("models show", async (run, cancellationToken) =>
        {
            string model = run.Result.GetValue(name)!;
            using AdminClient client = run.OpenClient();
            if (run.Result.GetValue(version) is { } number)
            {
                run.Write(await client.GetVersionAsync(model, number, cancellationToken), v => WriteVersion(run.Console, model, v));
            }
            else
            {
                run.Write(await client.GetModelAsync(model, cancellationToken), m => WriteModel(run.Console, m));
            }

            return 0;
        }, options);
        return command;
    }

    private static void WriteModel(IAnsiConsole console, ModelRecord model)
    {
        console.WriteLine($"{model.Name}: {Display.Text(model.Description)}");
        console.WriteLine($"created {Display.Time(model.CreatedAt)}, latest version {Display.Number(model.LatestVersion)}, aliases {Display.Aliases(model.Aliases)}");
        console.WriteLine();
        console.WriteLine("versions");
        console.Write(ModelTables.Versions(model.Versions));
        if (model.Replicas.Count > 0)
        {
            console.WriteLine();
            console.WriteLine("replicas");
            console.Write(ModelTables.Replicas(model.Replicas));
        }

        console.WriteLine();
        if (model.History.Count == 0)
        {
            console.WriteLine("no alias changes yet");
            return;
        }

        console.WriteLine("recent alias changes");
        console.Write(ModelTables.History(model.History.Take(ModelTables.RecentChanges)));
        if (model.History.Count > ModelTables.RecentChanges)
        {
            console.WriteLine($"{model.History.Count - ModelTables.RecentChanges} earlier: quiver models history {model.Name}");
        }
    }

    private static void WriteVersion(IAnsiConsole console, string model, VersionRecord version)
    {
        console.Write(ModelTables.Version(model, version));
        console.WriteLine();
        console.WriteLine("signature");
        console.Write(ModelTables.Signature(version));
    }
}
