using System.CommandLine;

namespace Quiver.Cli.Batch;

/// <summary><c>quiver batch merge</c>: joins shard outputs in input order.</summary>
public static class BatchMergeCommand
{
    public static Command Create()
    {
        var command = new Command("merge", "Join the outputs of 'quiver batch run --shard K/N' into one file, in input row order.");
        command.Action = new BatchAction("batch merge", (_, _) => Task.FromResult(BatchAction.Failed));
        return command;
    }
}
