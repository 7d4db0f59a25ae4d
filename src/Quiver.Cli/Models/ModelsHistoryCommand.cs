using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models history NAME</c>: every alias change of a model, newest first.</summary>
public static class ModelsHistoryCommand
{
    /// <summary>The command, its arguments and options; <paramref name="options"/> are the group's shared --server and --json.</summary>
    public static Command Create(AdminOptions options)
    {
        Argument<string> name = ModelArguments.Name();
        var command = new Command("history", "List every alias change of a model, newest first: promotions, rollbacks, removals.") { name };
        command.Action = new AdminAction("models history", async (run, cancellationToken) =>
        {
            string model = run.Result.GetValue(name)!;
            using AdminClient client = run.OpenClient();
            run.Write(await client.GetHistoryAsync(model, cancellationToken), history =>
            {
                if (history.Changes.Count == 0)
                {
                    run.Out.WriteLine($"{model}: no alias changes yet.");
                    return;
                }

                run.Console.Write(ModelTables.History(history.Changes));
            });
            return 0;
        }, options);
        return command;
    }
}
