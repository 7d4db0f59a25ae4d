using System.Text;

namespace Quiver.Cli.Admin;

/// <summary>Who the CLI acts as: the OS user name, sent as the version's creator and as <c>X-Quiver-Actor</c>.</summary>
public static class CliActor
{
    /// <summary>The header the server records alias changes under.</summary>
    public const string Header = "X-Quiver-Actor";

    /// <summary>The user name, made safe for an HTTP header.</summary>
    public static string Current { get; } = HeaderSafe(Environment.UserName);

    /// <summary>
    /// Header values must be ASCII or HttpClient refuses the request; a user name outside it (e.g. "jürgen")
    /// is percent-encoded rather than dropped, so the audit trail still names the person.
    /// </summary>
    public static string HeaderSafe(string name)
    {
        if (name.Length == 0)
        {
            return "unknown";
        }

        foreach (char c in name)
        {
            if (c is < ' ' or > '~')
            {
                return Uri.EscapeDataString(name.Normalize(NormalizationForm.FormC));
            }
        }

        return name;
    }
}
