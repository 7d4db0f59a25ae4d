using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models promote NAME VERSION</c>: moves the production alias.</summary>
public static class ModelsPromoteCommand
{
    /// <summary>The command, its arguments and options; <paramref name="options"/> are the group's shared --server and --json.</summary>
    public static Command Create(AdminOptions options)
    {
        Argument<string> name = ModelArguments.Name();
        Argument<int> version = ModelArguments.Version("The version to serve as production.");
        var command = new Command("promote", "Point production at VERSION; requests without a version switch to it. Undo with rollback.") { name, version };
        command.Action = new AdminAction("models promote", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            AdminReply<AliasRecord> reply = await client.PromoteAsync(run.Result.GetValue(name)!, run.Result.GetValue(version), cancellationToken);
            run.Write(reply, change => run.Out.WriteLine(ChangeMessages.AliasMoved(change)));
            return 0;
        }, options);
        return command;
    }
}
