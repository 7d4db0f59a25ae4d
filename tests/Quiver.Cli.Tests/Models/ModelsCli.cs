using System.CommandLine;

namespace Quiver.Cli.Tests.Models;

/// <summary>What one run of the CLI did.</summary>
public sealed record CliRun(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
}

/// <summary>Runs the <c>quiver</c> command line in this process, exactly as Program.cs does, capturing stdout and stderr.</summary>
public static class ModelsCli
{
    public static async Task<CliRun> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exitCode = await QuiverCommand.Create().Parse(args).InvokeAsync(
            new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null });
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs <c>quiver models ARGS --server URL</c>.</summary>
    public static Task<CliRun> ModelsAsync(AdminApiStandIn server, params string[] args) => RunAsync(["models", .. args, "--server", server.Url]);
}
