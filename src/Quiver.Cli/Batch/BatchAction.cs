using System.CommandLine;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;
using Quiver.Core.Batch;

namespace Quiver.Cli.Batch;

/// <summary>
/// Runs a batch command and turns every outcome into the exit codes in README.md: 0 done, 1 the job failed,
/// 2 bad arguments, 3 done with rejected rows, 130 interrupted (resumable).
/// </summary>
public sealed class BatchAction(string command, Func<ParseResult, CancellationToken, Task<int>> run) : AsynchronousCommandLineAction
{
    public const int Done = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int DoneWithRejectedRows = 3;
    public const int Interrupted = 130;

    /// <summary>Takes over parse errors, which System.CommandLine would report with exit code 1: they are usage errors (2).</summary>
    public override bool ClearsParseErrors => true;

    public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken)
    {
        TextWriter error = parseResult.InvocationConfiguration.Error;
        var problems = parseResult.Errors.Select(e => e.Message)
            .Concat(parseResult.UnmatchedTokens.Select(token => $"unrecognized argument '{token}'."))
            .ToList();
        if (problems.Count > 0)
        {
            return await UsageAsync(error, problems);
        }

        // SIGTERM (Kubernetes, kill) and SIGINT (Ctrl+C) stop the job after its current batch, with a checkpoint,
        // instead of killing it mid-write: the exit code then says "interrupted, resumable".
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }

        try
        {
            return await run(parseResult, stop.Token);
        }
        catch (BatchException e) when (e.Kind == BatchErrorKind.Usage)
        {
            return await UsageAsync(error, e.Message.Split(Environment.NewLine));
        }
        catch (BatchException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return Failed;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            await error.WriteLineAsync("interrupted: progress is checkpointed; run the same command with --resume to continue.");
            return Interrupted;
        }
    }

    private async Task<int> UsageAsync(TextWriter error, IEnumerable<string> problems)
    {
        foreach (string problem in problems)
        {
            await error.WriteLineAsync($"error: {problem}");
        }

        await error.WriteLineAsync($"See 'quiver {command} --help'.");
        return Usage;
    }
}
