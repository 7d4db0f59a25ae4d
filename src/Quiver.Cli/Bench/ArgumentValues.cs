using System.Globalization;

namespace Quiver.Cli.Bench;

/// <summary>Parses the bench's compact argument forms: lists ("1,8,32"), shapes ("1,64") and durations ("10s", "500ms").</summary>
public static class ArgumentValues
{
    /// <summary>A comma-separated list of positive integers, e.g. "1,8,32,128".</summary>
    public static int[] PositiveIntegers(string text, string option)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out values[i]) || values[i] < 1)
            {
                throw new BenchException($"{option} '{text}': expected positive integers separated by commas, e.g. 1,8,32.");
            }
        }

        return values;
    }

    /// <summary>A shape of non-negative dimensions, e.g. "1,64" or "1,3,32,32".</summary>
    public static long[] Shape(string text, string option)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        var dims = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]))
            {
                throw new BenchException($"{option} '{text}': expected dimensions separated by commas, e.g. 1,64.");
            }
        }

        return dims;
    }

    /// <summary>A duration: a number with unit ms, s or m ("500ms", "10s", "2m"); a bare number is seconds.</summary>
    public static TimeSpan Duration(string text, string option)
    {
        string trimmed = text.Trim();
        (string number, double unitSeconds) = trimmed switch
        {
            _ when trimmed.EndsWith("ms", StringComparison.Ordinal) => (trimmed[..^2], 0.001),
            _ when trimmed.EndsWith('s') => (trimmed[..^1], 1.0),
            _ when trimmed.EndsWith('m') => (trimmed[..^1], 60.0),
            _ => (trimmed, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || value > 86_400)
        {
            throw new BenchException($"{option} '{text}': expected a duration such as 500ms, 10s or 2m.");
        }

        return TimeSpan.FromSeconds(value * unitSeconds);
    }

    /// <summary>Writes a shape the way the protocol's error messages do: [1,64].</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(',', shape) + "]";
}
