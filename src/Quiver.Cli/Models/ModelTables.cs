using System.Globalization;
using Quiver.Cli.Admin;
using Spectre.Console;

namespace Quiver.Cli.Models;

/// <summary>The tables of list, show and history. Cells are plain text: names from the server are never read as markup.</summary>
public static class ModelTables
{
    /// <summary>How many alias changes <c>show NAME</c> prints; <c>history NAME</c> prints them all.</summary>
    public const int RecentChanges = 5;

    /// <summary><c>list</c>: one row per model.</summary>
    public static Table Models(IReadOnlyList<ModelRecord> models)
    {
        Table table = Create("model", "latest", "aliases", "versions", "created", "description");
        foreach (ModelRecord model in models)
        {
            Add(table, model.Name, Display.Number(model.LatestVersion), Display.Aliases(model.Aliases),
                VersionCounts(model.Versions), Display.Time(model.CreatedAt), Display.Text(model.Description));
        }

        return table;
    }

    /// <summary><c>show NAME</c>: one row per version, newest first.</summary>
    public static Table Versions(IReadOnlyList<VersionRecord> versions)
    {
        Table table = Create("version", "state", "aliases", "size", "sha256", "created", "creator", "tags", "description");
        foreach (VersionRecord version in versions.OrderByDescending(v => v.Version))
        {
            Add(table, Display.Number(version.Version), Display.State(version.State, version.Reason), Display.List(version.Aliases),
                Display.Size(version.SizeBytes), Display.ShortSha(version.Sha256), Display.Time(version.CreatedAt),
                Display.Text(version.Creator), Display.List(version.Tags), Display.Text(version.Description));
        }

        return table;
    }

    /// <summary><c>show NAME</c>: what each server replica has loaded.</summary>
    public static Table Replicas(IReadOnlyList<ReplicaRecord> replicas)
    {
        Table table = Create("replica", "version", "state", "updated");
        foreach (ReplicaRecord replica in replicas)
        {
            Add(table, replica.Replica, Display.Number(replica.Version), Display.State(replica.State, replica.Reason), Display.Time(replica.UpdatedAt));
        }

        return table;
    }

    /// <summary><c>history NAME</c>: alias changes, in the server's order (newest first).</summary>
    public static Table History(IEnumerable<AliasChangeRecord> changes)
    {
        Table table = Create("changed", "alias", "version", "previous", "by", "rollback");
        foreach (AliasChangeRecord change in changes)
        {
            Add(table, Display.Time(change.ChangedAt), change.Alias, change.Version is null ? "(removed)" : Display.Number(change.Version),
                Display.Number(change.PreviousVersion), Display.Text(change.ChangedBy), change.Rollback ? "yes" : "no");
        }

        return table;
    }

    /// <summary><c>show NAME VERSION</c>: every field of the version.</summary>
    public static Table Version(string model, VersionRecord version)
    {
        Table table = Create("field", "value");
        Add(table, "model", model);
        Add(table, "version", Display.Number(version.Version));
        Add(table, "state", Display.State(version.State, version.Reason));
        Add(table, "aliases", Display.List(version.Aliases));
        Add(table, "framework", Display.Text(version.Framework));
        Add(table, "size", $"{Display.Size(version.SizeBytes)} ({version.SizeBytes} bytes)");
        Add(table, "sha256", Display.Text(version.Sha256));
        Add(table, "encrypted", version.Encrypted ? "yes" : "no");
        Add(table, "created", Display.Time(version.CreatedAt));
        Add(table, "creator", Display.Text(version.Creator));
        Add(table, "description", Display.Text(version.Description));
        Add(table, "tags", Display.List(version.Tags));
        Add(table, "source uri", Display.Text(version.SourceUri));
        Add(table, "training run", Display.Text(version.TrainingRunId));
        Add(table, "derived from", version.DerivedFrom is int parent ? $"version {parent}" : Display.Text(null));
        if (version.OptimizationReport is { } report)
        {
            Add(table, "optimization", OptimizationSummary(report));
        }

        return table;
    }

    // One line from the attached report: what was done and what it cost or gained, as measured at push time.
    private static string OptimizationSummary(System.Text.Json.Nodes.JsonObject report)
    {
        var parts = new List<string> { report["mode"]?.ToString() ?? "?" };
        if (report["size_ratio"]?.GetValue<double>() is double ratio)
        {
            parts.Add(FormattableString.Invariant($"size {ratio * 100:0.0}% of the original"));
        }

        if (report["accuracy"]?["top1_agreement"] is { } agreement)
        {
            parts.Add(FormattableString.Invariant($"top-1 agreement {agreement.GetValue<double>() * 100:0.##}%"));
        }

        if (report["accuracy"]?["max_abs_diff"] is { } diff)
        {
            parts.Add(FormattableString.Invariant($"max abs diff {diff.GetValue<double>():G3}"));
        }

        if (report["speed"]?["levels"] is System.Text.Json.Nodes.JsonArray levels && levels.Count > 0 && levels[^1] is { } last)
        {
            parts.Add(FormattableString.Invariant($"{last["speedup"]?.GetValue<double>():0.00}× faster at batch {last["batch_size"]}"));
        }

        return string.Join(", ", parts);
    }

    /// <summary><c>show NAME VERSION</c>: the inputs and outputs.</summary>
    public static Table Signature(VersionRecord version)
    {
        Table table = Create("tensor", "name", "datatype", "shape");
        foreach (TensorRecord input in version.Inputs)
        {
            Add(table, "input", input.Name, input.Datatype, Display.Shape(input.Shape));
        }

        foreach (TensorRecord output in version.Outputs)
        {
            Add(table, "output", output.Name, output.Datatype, Display.Shape(output.Shape));
        }

        return table;
    }

    /// <summary>How many versions are in each state: "3 (2 ready, 1 retired)".</summary>
    public static string VersionCounts(IReadOnlyList<VersionRecord> versions) => versions.Count == 0
        ? "0"
        : string.Create(CultureInfo.InvariantCulture, $"{versions.Count} (") +
          string.Join(", ", versions.GroupBy(v => v.State).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}")) + ")";

    private static Table Create(params string[] columns) => AdminTables.Create(columns);

    private static void Add(Table table, params string[] cells) => AdminTables.Add(table, cells);
}
