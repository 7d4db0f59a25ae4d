using System.CommandLine;

namespace Quiver.Cli;

/// <summary>The root of the <c>quiver</c> command line.</summary>
public static class QuiverCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand(
            "Quiver serves ONNX models over the Open Inference Protocol (KServe v2), compatible with Triton's clients.");
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(Bench.BenchCommand.Create());
        root.Subcommands.Add(Keys.KeysCommand.Create());
        root.Subcommands.Add(Models.ModelsCommand.Create());
        root.Subcommands.Add(Optimize.OptimizeCommand.Create());
        root.Subcommands.Add(Rollouts.RolloutCommand.Create());
        root.Subcommands.Add(Rollouts.ExperimentCommand.Create());
        root.Subcommands.Add(Rollouts.EndpointCommand.Create());
        root.Subcommands.Add(Batch.BatchCommand.Create());
        root.Subcommands.Add(Audit.AuditCommand.Create());
        return root;
    }
}
