using System.CommandLine;
using System.Globalization;
using Quiver.Core.Batch;

namespace Quiver.Cli.Batch;

/// <summary><c>quiver batch merge</c>: joins shard outputs in input order.</summary>
public static class BatchMergeCommand
{
    public static Command Create()
    {
        var parts = new Argument<string[]>("parts") { Description = "The shards' output files, in any order.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "The merged file.", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing output." };
        var command = new Command("merge",
            "Join the outputs of 'quiver batch run --shard K/N' into one file, in input row order. Checkpoints beside the parts prove every shard finished.")
        {
            parts, output, overwrite,
        };
        command.Action = new BatchAction("batch merge", async (result, cancellationToken) =>
        {
            string target = result.GetValue(output)!;
            MergeResult merged = await Task.Run(() => BatchMerge.Merge(result.GetValue(parts)!, target, result.GetValue(overwrite), cancellationToken),
                cancellationToken);
            foreach (string warning in merged.Warnings)
            {
                await result.InvocationConfiguration.Error.WriteLineAsync($"warning: {warning}");
            }

            await result.InvocationConfiguration.Output.WriteLineAsync(
                string.Create(CultureInfo.InvariantCulture, $"merged {merged.Rows:N0} rows from {merged.Parts} parts → {target}"));
            return BatchAction.Done;
        });
        return command;
    }
}
