using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models rollback NAME [--alias ALIAS]</c>: moves an alias back to its previous version.</summary>
public static class ModelsRollbackCommand
{
    /// <summary>The alias rolled back when --alias is not given.</summary>
    public const string DefaultAlias = "production";

    /// <summary>The command, its arguments and options; <paramref name="options"/> are the group's shared --server and --json.</summary>
    public static Command Create(AdminOptions options)
    {
        Argument<string> name = ModelArguments.Name();
        var alias = new Option<string>("--alias")
        {
            Description = "The alias to move back.",
            DefaultValueFactory = _ => DefaultAlias,
            HelpName = "ALIAS",
        };
        alias.Validators.Add(result =>
        {
            if (string.IsNullOrWhiteSpace(result.GetValueOrDefault<string>()))
            {
                result.AddError("--alias must not be empty.");
            }
        });
        var command = new Command("rollback", "Move an alias (production by default) back to the version it pointed at before, from its history.")
        {
            name, alias,
        };
        command.Action = new AdminAction("models rollback", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            AdminReply<AliasRecord> reply = await client.RollbackAsync(run.Result.GetValue(name)!, run.Result.GetValue(alias)!, cancellationToken);
            run.Write(reply, change => run.Out.WriteLine(ChangeMessages.RolledBack(change)));
            return 0;
        }, options);
        return command;
    }
}
