using System.Text;

namespace Quiver.Cli.Models;

/// <summary>One push: the artifact file and the query parameters of <c>POST /v2/admin/models/{name}/versions</c>.</summary>
public sealed record PushRequest
{
    public required string Model { get; init; }

    /// <summary>The ONNX file, streamed as the request body.</summary>
    public required string FilePath { get; init; }

    /// <summary>Recorded as the version's creator.</summary>
    public required string Creator { get; init; }

    public string? Description { get; init; }

    /// <summary>An alias to point at the new version (e.g. staging).</summary>
    public string? Alias { get; init; }

    /// <summary>The model config as compact JSON text (see <see cref="ConfigFile"/>).</summary>
    public string? Config { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    public string? SourceUri { get; init; }

    public string? TrainingRunId { get; init; }

    /// <summary>Push even if the signature breaks the alias's clients.</summary>
    public bool Force { get; init; }

    /// <summary>The regions the version may be loaded in (data residency); empty for no restriction.</summary>
    public IReadOnlyList<string> Regions { get; init; } = [];

    /// <summary>Lineage: the version this artifact was derived from.</summary>
    public int? DerivedFrom { get; init; }

    /// <summary>The optimization report (compact JSON), sent in the <see cref="ReportHeader"/> header: it can outgrow a URL.</summary>
    public string? OptimizationReport { get; init; }

    /// <summary>The header that carries <see cref="OptimizationReport"/>, base64 of its UTF-8 bytes.</summary>
    public const string ReportHeader = "X-Quiver-Optimization-Report";

    /// <summary>The query string, without the '?'; absent values are left out.</summary>
    public string QueryString()
    {
        var query = new StringBuilder();
        Add(query, "description", Description);
        Add(query, "alias", Alias);
        Add(query, "tags", Tags.Count == 0 ? null : string.Join(',', Tags));
        Add(query, "source_uri", SourceUri);
        Add(query, "training_run_id", TrainingRunId);
        Add(query, "force", Force ? "true" : null);
        Add(query, "creator", Creator);
        Add(query, "config", Config);
        Add(query, "regions", Regions.Count == 0 ? null : string.Join(',', Regions));
        Add(query, "derived_from", DerivedFrom?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return query.ToString();
    }

    /// <summary>
    /// The tags of repeated <c>--tag</c> options; a comma separates tags too (as on the wire), so
    /// <c>--tag a,b</c> is <c>--tag a --tag b</c>. Blanks and repeats are dropped.
    /// </summary>
    public static IReadOnlyList<string> ParseTags(IEnumerable<string> values) =>
        values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();

    private static void Add(StringBuilder query, string name, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (query.Length > 0)
        {
            query.Append('&');
        }

        query.Append(name).Append('=').Append(Uri.EscapeDataString(value));
    }
}
