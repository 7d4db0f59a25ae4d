using System.CommandLine;
using Spectre.Console;

namespace Quiver.Cli.Admin;

/// <summary>One run of an admin command: its parsed arguments, its output, and the way to the server.</summary>
public sealed class AdminInvocation(ParseResult result, AdminOptions options)
{
    private IAnsiConsole? _console;

    /// <summary>The parsed command line.</summary>
    public ParseResult Result => result;

    /// <summary>Standard output (the invocation's, so tests can capture it).</summary>
    public TextWriter Out => result.InvocationConfiguration.Output;

    /// <summary>Standard error: warnings and errors.</summary>
    public TextWriter Error => result.InvocationConfiguration.Error;

    /// <summary>Whether <c>--json</c> was given.</summary>
    public bool Json => result.GetValue(options.Json);

    /// <summary>Tables go here.</summary>
    public IAnsiConsole Console => _console ??= AdminConsole.For(Out);

    /// <summary>A client for the server of <c>--server</c> / QUIVER_SERVER, acting as the OS user.</summary>
    public AdminClient OpenClient() => new(ServerAddress.Parse(result.GetValue(options.Server)!), CliActor.Current, result.GetValue(options.ApiKey));

    /// <summary>Prints an answer: the server's JSON as is with <c>--json</c>, else what <paramref name="human"/> writes.</summary>
    public void Write<T>(AdminReply<T> reply, Action<T> human)
    {
        if (Json)
        {
            Out.WriteLine(reply.Json.TrimEnd('\n', '\r'));
        }
        else
        {
            human(reply.Value);
        }
    }
}
