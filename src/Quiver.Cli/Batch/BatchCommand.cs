using System.CommandLine;

namespace Quiver.Cli.Batch;

/// <summary><c>quiver batch</c>: score files with a model, resumably and in shards.</summary>
public static class BatchCommand
{
    /// <summary>The command group with run and merge.</summary>
    public static Command Create()
    {
        var command = new Command("batch", "Score a file of rows with a model (run), in shards if need be, and join the shards' outputs (merge).");
        command.Subcommands.Add(BatchRunCommand.Create());
        command.Subcommands.Add(BatchMergeCommand.Create());
        command.Action = new BatchAction("batch", (_, _) =>
            throw new Core.Batch.BatchException(Core.Batch.BatchErrorKind.Usage, "'quiver batch' needs a subcommand: run, merge."));
        return command;
    }
}
