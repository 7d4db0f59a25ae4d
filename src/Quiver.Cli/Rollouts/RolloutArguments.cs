using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Rollouts;

/// <summary>
/// The values of the rollout, experiment and endpoint commands, each checked while parsing so a bad one exits 2
/// before anything is sent. The parsers throw <see cref="UsageException"/> naming the option and an example.
/// Only the form is checked here; the rules (steps rising to 100, weights summing to 100) are the server's.
/// </summary>
public static class RolloutArguments
{
    /// <summary>An argument naming something on the server (a model, an endpoint), never empty.</summary>
    public static Argument<string> Name(string name, string description)
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

    /// <summary>An option whose value <paramref name="parse"/> reads; its <see cref="UsageException"/> becomes a parse error.</summary>
    public static Option<T> Parsed<T>(string name, string description, string helpName, Func<string, T> parse) => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = result => Parse(result, parse),
    };

    /// <summary>A repeatable option: every occurrence parsed by <paramref name="parse"/>.</summary>
    public static Option<T[]> Repeated<T>(string name, string description, string helpName, Func<string, T> parse) => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = result =>
        {
            var values = new List<T>();
            foreach (Token token in result.Tokens)
            {
                try
                {
                    values.Add(parse(token.Value));
                }
                catch (UsageException e)
                {
                    result.AddError(e.Message);
                }
            }

            return [.. values];
        },
    };

    /// <summary><c>--to VERSION</c>: a positive whole number, as the registry numbers versions.</summary>
    public static int Version(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int version) && version > 0
            ? version
            : throw new UsageException($"--to '{text}' is not a version number: expected a positive whole number such as 3.");

    /// <summary><c>--steps 5,25,50,100</c>: the candidate's share at each step, whole percentages.</summary>
    public static int[] Steps(string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var steps = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            string part = parts[i].EndsWith('%') ? parts[i][..^1] : parts[i];
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out steps[i]))
            {
                throw new UsageException($"--steps '{text}' is not a list of whole percentages such as 5,25,50,100.");
            }
        }

        return steps;
    }

    /// <summary><c>--interval</c>: seconds, bare (120) or with a unit (120s, 2m, 1h, 1.5m).</summary>
    public static double Interval(string text)
    {
        string trimmed = text.Trim();
        double unit = trimmed.Length == 0 ? 0 : trimmed[^1] switch
        {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => 0,
        };
        string number = unit == 0 ? trimmed : trimmed[..^1];
        return Finite(number) is { } value && value > 0
            ? value * (unit == 0 ? 1 : unit)
            : throw new UsageException($"--interval '{text}' is not a duration: give seconds (120) or a number with s, m or h (120s, 2m, 1h).");
    }

    /// <summary>
    /// A rate such as <c>--max-error-rate</c>, as a percentage (1%) or a fraction (0.01); returns the fraction. A bare
    /// number above 1 is refused rather than guessed at: "5" could mean 5% or 500%.
    /// </summary>
    public static double Fraction(string option, string text)
    {
        string trimmed = text.Trim();
        bool percent = trimmed.EndsWith('%');
        double? value = Finite(percent ? trimmed[..^1] : trimmed);
        if (value is null || value < 0 || (percent && value > 100))
        {
            throw new UsageException($"{option} '{text}' is not a rate: give a percentage such as 1% or a fraction such as 0.01.");
        }

        return percent ? value.Value / 100 : value <= 1
            ? value.Value
            : throw new UsageException($"{option} '{text}' is above 1: give a percentage as {text}% or a fraction such as 0.01.");
    }

    /// <summary>A number above zero, such as <c>--max-p99-latency-ratio 1.5</c>.</summary>
    public static double Positive(string option, string text) =>
        Finite(text) is { } value && value > 0 ? value : throw new UsageException($"{option} '{text}' is not a number above 0, such as 1.5.");

    /// <summary>A whole number of at least <paramref name="minimum"/>, such as <c>--minimum-requests 20</c>.</summary>
    public static int Count(string option, string text, int minimum) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count >= minimum
            ? count
            : throw new UsageException($"{option} '{text}' is not a whole number of at least {minimum}.");

    /// <summary><c>--alpha</c>: a significance level strictly between 0 and 1.</summary>
    public static double Alpha(string text) =>
        Finite(text) is { } value && value is > 0 and < 1
            ? value
            : throw new UsageException($"--alpha '{text}' is not a significance level: give a number between 0 and 1 such as 0.05.");

    /// <summary><c>--variant name=model:version:weight</c>; the version may be a number, an alias, or empty for the model's default.</summary>
    public static VariantRequest Variant(string text)
    {
        int equals = text.IndexOf('=');
        string[] parts = equals < 0 ? [] : text[(equals + 1)..].Split(':');
        string name = equals < 0 ? "" : text[..equals].Trim();
        if (parts.Length != 3 || name.Length == 0 || parts[0].Trim().Length == 0)
        {
            throw new UsageException(
                $"--variant '{text}' is not NAME=MODEL:VERSION:WEIGHT, e.g. control=iris:1:50 (VERSION a number, an alias, or empty for the model's default).");
        }

        return Finite(parts[2].TrimEnd('%')) is { } weight && weight is >= 0 and <= 100
            ? new VariantRequest(name, parts[0].Trim(), parts[1].Trim(), weight)
            : throw new UsageException($"--variant '{text}': the weight '{parts[2]}' is not a percentage from 0 to 100.");
    }

    /// <summary><c>--shadow model:version:percent</c>: the share of requests copied to the shadow, above 0 and at most 100.</summary>
    public static ShadowRequest Shadow(string text)
    {
        string[] parts = text.Split(':');
        if (parts.Length != 3 || parts[0].Trim().Length == 0)
        {
            throw new UsageException($"--shadow '{text}' is not MODEL:VERSION:PERCENT, e.g. iris:3:10.");
        }

        return Finite(parts[2].TrimEnd('%')) is { } percent && percent is > 0 and <= 100
            ? new ShadowRequest(parts[0].Trim(), parts[1].Trim(), percent)
            : throw new UsageException($"--shadow '{text}': the percent '{parts[2]}' is not above 0 and at most 100.");
    }

    private static T Parse<T>(ArgumentResult result, Func<string, T> parse)
    {
        if (result.Tokens.Count == 0)
        {
            return default!;
        }

        try
        {
            return parse(result.Tokens[^1].Value);
        }
        catch (UsageException e)
        {
            result.AddError(e.Message);
            return default!;
        }
    }

    // Invariant culture, and no NaN or infinity, which double.TryParse would accept.
    private static double? Finite(string text) =>
        double.TryParse(text.Trim(), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value)
            ? value
            : null;
}
