using System.Globalization;

namespace Quiver.Cli.Admin;

/// <summary>How values look in tables and messages: the same everywhere, invariant culture, "-" for nothing.</summary>
public static class Display
{
    /// <summary>A placeholder for an absent value.</summary>
    public const string None = "-";

    public static string Text(string? value) => string.IsNullOrEmpty(value) ? None : value;

    public static string Number(int? value) => value?.ToString(CultureInfo.InvariantCulture) ?? None;

    /// <summary>UTC to the second: "2026-11-25 10:00:00Z".</summary>
    public static string Time(DateTimeOffset? value) =>
        value?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? None;

    /// <summary>Bytes in binary units: "512 B", "1.5 KiB", "42.0 MiB".</summary>
    public static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    /// <summary>The first 12 hex digits, as git shortens commits; <c>show NAME VERSION</c> prints all 64.</summary>
    public static string ShortSha(string sha256) => sha256.Length > 12 ? sha256[..12] : Text(sha256);

    /// <summary>A state with its reason, if any: "failed (input x: bad shape)".</summary>
    public static string State(string state, string? reason) => string.IsNullOrEmpty(reason) ? Text(state) : $"{state} ({reason})";

    /// <summary>A shape as the protocol writes it, -1 for open dimensions: [-1,4].</summary>
    public static string Shape(IReadOnlyList<long> shape) =>
        "[" + string.Join(',', shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>A list, comma-separated, or "-".</summary>
    public static string List(IEnumerable<string> values) => Text(string.Join(", ", values));

    /// <summary>A model's aliases in name order: "production → 2, staging → 3".</summary>
    public static string Aliases(IReadOnlyDictionary<string, int> aliases) =>
        List(aliases.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key} → {Number(a.Value)}"));

    /// <summary>A decimal number with up to <paramref name="digits"/> decimals: "1.5", "0.0399".</summary>
    public static string Decimal(double? value, int digits = 4) =>
        value?.ToString("0." + new string('#', digits), CultureInfo.InvariantCulture) ?? None;

    /// <summary>A fraction as a percentage: 0.01 is "1%", 0.0025 is "0.25%".</summary>
    public static string Percent(double? fraction) => fraction is { } value ? Decimal(value * 100, 2) + "%" : None;
}
