using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models</c>: manage the registry of a running server through its admin API.</summary>
public static class ModelsCommand
{
    /// <summary>The command group with push, list, show, alias, promote, rollback, retire and history.</summary>
    public static Command Create()
    {
        var options = new AdminOptions();
        var command = new Command("models", "Manage a running server's model registry: push versions, move aliases, promote, roll back, retire.")
        {
            options.Server,
            options.Json,
            options.ApiKey,
            ModelsPushCommand.Create(options),
            ModelsListCommand.Create(options),
            ModelsShowCommand.Create(options),
            ModelsAliasCommand.Create(options),
            ModelsPromoteCommand.Create(options),
            ModelsRollbackCommand.Create(options),
            ModelsRetireCommand.Create(options),
            ModelsHistoryCommand.Create(options),
        };
        command.Action = AdminAction.MissingSubcommand("models", command, options);
        return command;
    }
}
