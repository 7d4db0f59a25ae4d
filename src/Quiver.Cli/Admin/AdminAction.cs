using System.CommandLine;
using System.CommandLine.Invocation;

namespace Quiver.Cli.Admin;

/// <summary>
/// Runs an admin API command (models, rollout, experiment, endpoint) and turns every outcome into an exit code and at most a few lines on stderr:
/// 0 done, 1 the server refused or could not be reached, 2 bad arguments (nothing sent), 130 cancelled.
/// </summary>
public sealed class AdminAction(string command, Func<AdminInvocation, CancellationToken, Task<int>> run, AdminOptions options)
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
            return await run(new AdminInvocation(parseResult, options), cancellationToken);
        }
        catch (UsageException e)
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

    /// <summary>The action of a group run without a subcommand: a usage error (exit 2) naming the subcommands.</summary>
    public static AdminAction MissingSubcommand(string path, Command group, AdminOptions options) =>
        new(path, (_, _) => throw new UsageException(
            $"'quiver {path}' needs a subcommand: {string.Join(", ", group.Subcommands.Select(c => c.Name))}."), options);
}
