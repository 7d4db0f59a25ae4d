using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models list</c>: every model with its latest version, aliases and version states.</summary>
public static class ModelsListCommand
{
    /// <summary>The command, its arguments and options; <paramref name="options"/> are the group's shared --server and --json.</summary>
    public static Command Create(AdminOptions options)
    {
        var command = new Command("list", "List the registry's models with their aliases and versions.");
        command.Action = new AdminAction("models list", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            AdminReply<ModelList> reply = await client.ListModelsAsync(cancellationToken);
            run.Write(reply, list =>
            {
                if (list.Models.Count == 0)
                {
                    run.Out.WriteLine($"no models registered at {client.Server}; add one with 'quiver models push NAME FILE'.");
                    return;
                }

                run.Console.Write(ModelTables.Models(list.Models));
            });
            return 0;
        }, options);
        return command;
    }
}
