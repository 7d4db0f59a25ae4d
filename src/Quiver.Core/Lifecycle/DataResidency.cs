using System.Text.RegularExpressions;

namespace Quiver.Core.Lifecycle;

/// <summary>
/// Data residency: a model version may name the regions it may be loaded and served in; a server outside them (or one
/// with no region at all) refuses it. Region names are cloud-style: lowercase letters, digits and dashes
/// (<c>eu-west-1</c>, <c>europe-west4</c>, <c>westeurope</c>).
/// </summary>
public static partial class DataResidency
{
    /// <summary>Why <paramref name="region"/> is not a region name, or null when it is one.</summary>
    public static string? CheckRegion(string region) =>
        RegionName().IsMatch(region)
            ? null
            : $"'{region}' is not a region name: expected lowercase letters, digits and dashes, starting with a letter, e.g. eu-west-1.";

    /// <summary>Parses a comma-separated list (<c>eu-west-1,eu-central-1</c>); throws <see cref="FormatException"/> naming a bad entry.</summary>
    public static IReadOnlyList<string> ParseList(string list)
    {
        string[] regions = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (regions.Length == 0)
        {
            throw new FormatException("the list of allowed regions is empty: name at least one, e.g. eu-west-1,eu-central-1.");
        }

        return Validate(regions);
    }

    /// <summary>Checks every name and removes duplicates, keeping the order; throws <see cref="FormatException"/> naming a bad one.</summary>
    public static IReadOnlyList<string> Validate(IEnumerable<string> regions)
    {
        var result = new List<string>();
        foreach (string region in regions)
        {
            if (CheckRegion(region) is { } problem)
            {
                throw new FormatException($"allowed regions: {problem}");
            }

            if (!result.Contains(region))
            {
                result.Add(region);
            }
        }

        return result;
    }

    /// <summary>
    /// Why a server in <paramref name="serverRegion"/> must not load a version allowed in <paramref name="allowed"/>, or null
    /// when it may (no restriction, or the region is listed).
    /// </summary>
    public static string? Refusal(IReadOnlyList<string>? allowed, string? serverRegion)
    {
        if (allowed is null || allowed.Count == 0 || (serverRegion is not null && allowed.Contains(serverRegion)))
        {
            return null;
        }

        string list = string.Join(", ", allowed);
        return serverRegion is null
            ? $"data residency: this version may only be loaded in region(s) {list}, and this server has no region (start it with --region)."
            : $"data residency: this version may only be loaded in region(s) {list}, not in this server's region {serverRegion}.";
    }

    [GeneratedRegex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$")]
    private static partial Regex RegionName();
}
