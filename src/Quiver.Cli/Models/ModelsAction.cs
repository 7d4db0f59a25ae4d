using System.CommandLine;
using System.CommandLine.Invocation;

namespace Quiver.Cli.Models;

/// <summary>
/// Runs a models command and turns every outcome into an exit code and at most a few lines on stderr:
/// 0 done, 1 the server refused or could not be reached, 2 bad arguments (nothing sent), 130 cancelled.
/// </summary>
public sealed class ModelsAction(string command, Func<ModelsInvocation, CancellationToken, Task<int>> run, ModelsOptions options)
    : AsynchronousCommandLineAction
{
    /// <summary>
    /// Takes over parse errors from System.CommandLine, which would exit 1 for them: scripts must tell a bad
    /// command line (2) from a refusal by the server (1).
    /// </summary>
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

        try
        {
            return await run(new ModelsInvocation(parseResult, options), cancellationToken);
        }
        catch (ModelsUsageException e)
        {
            return await UsageAsync(error, [e.Message]);
        }
        catch (Exception e) when (e is AdminApiException or ServerConnectionException)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("error: cancelled.");
            return 130;
        }
    }

    private async Task<int> UsageAsync(TextWriter error, IEnumerable<string> problems)
    {
        foreach (string problem in problems)
        {
            await error.WriteLineAsync($"error: {problem}");
        }

        await error.WriteLineAsync($"See 'quiver {command} --help'.");
        return 2;
    }
}
