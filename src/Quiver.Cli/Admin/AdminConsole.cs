using Spectre.Console;

namespace Quiver.Cli.Admin;

/// <summary>A Spectre.Console console over the command's output writer.</summary>
public static class AdminConsole
{
    /// <summary>A console writing to <paramref name="output"/>: colors only on a terminal, plain text everywhere else.</summary>
    public static IAnsiConsole For(TextWriter output)
    {
        bool terminal = output == Console.Out && !Console.IsOutputRedirected;
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal)
        {
            // Redirected output has no width; Spectre would assume 80 columns and wrap the tables.
            console.Profile.Width = 200;
        }

        return console;
    }
}
