namespace Quiver.Cli.Models;

// The JSON of the models admin API (/v2/admin/models/...), read for tables only: --json prints the server's own text.
// Every member has a default so an older or newer server's missing or extra fields never break the CLI.

/// <summary><c>GET /v2/admin/models</c>.</summary>
public sealed record ModelList
{
    public IReadOnlyList<ModelRecord> Models { get; init; } = [];
}

/// <summary>A model; <see cref="Replicas"/> and <see cref="History"/> come only from <c>GET /v2/admin/models/{name}</c>.</summary>
public sealed record ModelRecord
{
    public string Name { get; init; } = "";

    public string? Description { get; init; }

    public DateTimeOffset? CreatedAt { get; init; }

    public IReadOnlyDictionary<string, int> Aliases { get; init; } = new Dictionary<string, int>();

    public int? LatestVersion { get; init; }

    public IReadOnlyList<VersionRecord> Versions { get; init; } = [];

    public IReadOnlyList<ReplicaRecord> Replicas { get; init; } = [];

    /// <summary>Alias changes, newest first.</summary>
    public IReadOnlyList<AliasChangeRecord> History { get; init; } = [];
}

/// <summary>One immutable version of a model.</summary>
public sealed record VersionRecord
{
    public int Version { get; init; }

    public string Sha256 { get; init; } = "";

    public long SizeBytes { get; init; }

    public string? Framework { get; init; }

    /// <summary>registered, loading, ready, failed or retired.</summary>
    public string State { get; init; } = "";

    public string? Reason { get; init; }

    public string? Creator { get; init; }

    public DateTimeOffset? CreatedAt { get; init; }

    public string? Description { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    public string? SourceUri { get; init; }

    public string? TrainingRunId { get; init; }

    /// <summary>Lineage: the version this one was derived from (e.g. by push --optimize).</summary>
    public int? DerivedFrom { get; init; }

    /// <summary>The optimization report of a derived version, as <c>quiver optimize --report</c> writes it.</summary>
    public System.Text.Json.Nodes.JsonObject? OptimizationReport { get; init; }

    public IReadOnlyList<TensorRecord> Inputs { get; init; } = [];

    public IReadOnlyList<TensorRecord> Outputs { get; init; } = [];

    public bool Encrypted { get; init; }

    public IReadOnlyList<string> Aliases { get; init; } = [];
}

/// <summary>An input or output of a version's signature; -1 is an open dimension.</summary>
public sealed record TensorRecord
{
    public string Name { get; init; } = "";

    public string Datatype { get; init; } = "";

    public IReadOnlyList<long> Shape { get; init; } = [];
}

/// <summary>What one server replica has loaded of a model.</summary>
public sealed record ReplicaRecord
{
    public string Replica { get; init; } = "";

    public int? Version { get; init; }

    public string State { get; init; } = "";

    public string? Reason { get; init; }

    public DateTimeOffset? UpdatedAt { get; init; }
}

/// <summary>One move of an alias; <see cref="Version"/> is null when the alias was removed.</summary>
public sealed record AliasChangeRecord
{
    public string Alias { get; init; } = "";

    public int? Version { get; init; }

    public int? PreviousVersion { get; init; }

    public DateTimeOffset? ChangedAt { get; init; }

    public string? ChangedBy { get; init; }

    public bool Rollback { get; init; }
}

/// <summary><c>GET /v2/admin/models/{name}/history</c>.</summary>
public sealed record HistoryRecord
{
    public IReadOnlyList<AliasChangeRecord> Changes { get; init; } = [];
}

/// <summary>The answer to a push: the new version, or the existing one holding the same artifact and config.</summary>
public sealed record PushRecord
{
    public string Model { get; init; } = "";

    public int Version { get; init; }

    public string Sha256 { get; init; } = "";

    public long SizeBytes { get; init; }

    /// <summary>The artifact's bytes were already in the store (same sha256): no second copy was written.</summary>
    public bool AlreadyStored { get; init; }

    /// <summary>A version with the same artifact and config already existed; it is returned and nothing was added.</summary>
    public bool Existing { get; init; }

    public string? Alias { get; init; }

    /// <summary>The version's state on the answering server right after the push (ready, failed, ...), if the server says.</summary>
    public string? State { get; init; }

    public IReadOnlyList<string> Warnings { get; init; } = [];

    public IReadOnlyList<string> SignatureChanges { get; init; } = [];
}

/// <summary>The answer to alias set and remove, promote and rollback.</summary>
public sealed record AliasRecord
{
    public string Model { get; init; } = "";

    public string Alias { get; init; } = "";

    public int? Version { get; init; }

    public int? PreviousVersion { get; init; }
}
