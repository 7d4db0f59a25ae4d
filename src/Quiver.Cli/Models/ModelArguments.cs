using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary>The arguments the models commands share, each checked while parsing so a bad one exits 2 before anything is sent.</summary>
public static class ModelArguments
{
    /// <summary>NAME: the model.</summary>
    public static Argument<string> Name() => NonEmpty("NAME", "The model's name.");

    /// <summary>ALIAS: an alias of the model, e.g. production or staging.</summary>
    public static Argument<string> Alias() => NonEmpty("ALIAS", "The alias, e.g. production or staging.");

    /// <summary>VERSION: a version number.</summary>
    public static Argument<int> Version(string description) => new("VERSION")
    {
        Description = description,
        CustomParser = result => ParseVersion(result) ?? 0,
    };

    /// <summary>[VERSION]: an optional version number.</summary>
    public static Argument<int?> OptionalVersion(string description) => new("VERSION")
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrOne,
        CustomParser = ParseVersion,
    };

    private static Argument<string> NonEmpty(string name, string description)
    {
        var argument = new Argument<string>(name) { Description = description };
        argument.Validators.Add(result =>
        {
            if (string.IsNullOrWhiteSpace(result.GetValueOrDefault<string>()))
            {
                result.AddError($"{name} must not be empty.");
            }
        });
        return argument;
    }

    // Versions are the registry's positive integers; the server refuses 0 too, but only after a round trip.
    private static int? ParseVersion(ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }

        string text = result.Tokens[0].Value;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int version) && version > 0)
        {
            return version;
        }

        result.AddError($"VERSION '{text}' is not a version number: expected a positive whole number such as 3.");
        return null;
    }
}
