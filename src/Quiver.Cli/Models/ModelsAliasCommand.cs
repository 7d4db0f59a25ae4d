using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models alias set|remove</c>: point a named alias at a version, or remove it.</summary>
public static class ModelsAliasCommand
{
    /// <summary>The command, its arguments and options; <paramref name="options"/> are the group's shared --server and --json.</summary>
    public static Command Create(AdminOptions options)
    {
        var command = new Command("alias", "Point an alias (production, staging, ...) at a version, or remove it.")
        {
            Set(options),
            Remove(options),
        };
        command.Action = AdminAction.MissingSubcommand("models alias", command, options);
        return command;
    }

    private static Command Set(AdminOptions options)
    {
        Argument<string> name = ModelArguments.Name();
        Argument<string> alias = ModelArguments.Alias();
        Argument<int> version = ModelArguments.Version("The version the alias will point at.");
        var command = new Command("set", "Point ALIAS of model NAME at VERSION; requests for the alias switch to it.") { name, alias, version };
        command.Action = new AdminAction("models alias set", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            AdminReply<AliasRecord> reply = await client.SetAliasAsync(
                run.Result.GetValue(name)!, run.Result.GetValue(alias)!, run.Result.GetValue(version), cancellationToken);
            run.Write(reply, change => run.Out.WriteLine(ChangeMessages.AliasMoved(change)));
            return 0;
        }, options);
        return command;
    }

    private static Command Remove(AdminOptions options)
    {
        Argument<string> name = ModelArguments.Name();
        Argument<string> alias = ModelArguments.Alias();
        var command = new Command("remove", "Remove ALIAS from model NAME.") { name, alias };
        command.Action = new AdminAction("models alias remove", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            AdminReply<AliasRecord> reply = await client.RemoveAliasAsync(run.Result.GetValue(name)!, run.Result.GetValue(alias)!, cancellationToken);
            run.Write(reply, change => run.Out.WriteLine(ChangeMessages.AliasRemoved(change)));
            return 0;
        }, options);
        return command;
    }
}
