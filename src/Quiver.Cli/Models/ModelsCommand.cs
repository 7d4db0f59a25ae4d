using System.CommandLine;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models</c>: manage the registry of a running server through its admin API.</summary>
public static class ModelsCommand
{
    /// <summary>The command group with push, list, show, alias, promote, rollback, retire and history.</summary>
    public static Command Create()
    {
        var options = new ModelsOptions();
        var command = new Command("models", "Manage a running server's model registry: push versions, move aliases, promote, roll back, retire.")
        {
            options.Server,
            options.Json,
            ModelsPushCommand.Create(options),
            ModelsListCommand.Create(options),
            ModelsShowCommand.Create(options),
            ModelsAliasCommand.Create(options),
            ModelsPromoteCommand.Create(options),
            ModelsRollbackCommand.Create(options),
            ModelsRetireCommand.Create(options),
            ModelsHistoryCommand.Create(options),
        };
        command.Action = MissingSubcommand("models", command, options);
        return command;
    }

    /// <summary>The action of a group run without a subcommand: a usage error (exit 2) naming the subcommands.</summary>
    public static ModelsAction MissingSubcommand(string path, Command group, ModelsOptions options) =>
        new(path, (_, _) => throw new ModelsUsageException(
            $"'quiver {path}' needs a subcommand: {string.Join(", ", group.Subcommands.Select(c => c.Name))}."), options);
}
