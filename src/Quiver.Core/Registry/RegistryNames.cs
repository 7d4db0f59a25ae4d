using System.Text.RegularExpressions;

namespace Quiver.Core.Registry;

/// <summary>The rules for names and checksums callers hand the registry; a broken rule is <see cref="RegistryErrorKind.Invalid"/>.</summary>
internal static partial class RegistryNames
{
    /// <summary>Throws unless <paramref name="name"/> can be a model name (it becomes a folder and a URL segment).</summary>
    public static void RequireModelName(string name)
    {
        if (name is null || !NamePattern().IsMatch(name))
        {
            throw RegistryException.Invalid(
                $"'{name}' is not a valid model name: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
    }

    /// <summary>Throws unless <paramref name="alias"/> can be an alias name.</summary>
    public static void RequireAliasName(string alias)
    {
        if (alias is null || !NamePattern().IsMatch(alias))
        {
            throw RegistryException.Invalid(
                $"'{alias}' is not a valid alias name: use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }

        // All-digit aliases would read as version numbers wherever either may appear (URLs, the CLI).
        if (alias.All(char.IsAsciiDigit))
        {
            throw RegistryException.Invalid($"'{alias}' is not a valid alias name: it must not be all digits, which would read as a version number.");
        }
    }

    /// <summary>The checksum as 64 lowercase hex digits; throws when it is not a SHA-256 in hex.</summary>
    public static string NormalizeSha256(string sha256)
    {
        if (sha256 is null || sha256.Length != 64 || !sha256.All(char.IsAsciiHexDigit))
        {
            throw RegistryException.Invalid($"'{sha256}' is not a SHA-256 checksum: expected 64 hex digits.");
        }

        return sha256.ToLowerInvariant();
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex NamePattern();
}
