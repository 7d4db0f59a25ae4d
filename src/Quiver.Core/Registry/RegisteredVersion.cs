namespace Quiver.Core.Registry;

/// <summary>One registered version of a model as the registry stores it.</summary>
public sealed record RegisteredVersion
{
    /// <summary>The model name.</summary>
    public required string Model { get; init; }

    /// <summary>The version number: monotonic per model, starting at 1, never reused.</summary>
    public required long Version { get; init; }

    /// <summary>The artifact's SHA-256 as 64 lowercase hex digits.</summary>
    public required string Sha256 { get; init; }

    /// <summary>The artifact's size in bytes.</summary>
    public required long SizeBytes { get; init; }

    /// <summary>The artifact's framework, e.g. "onnx".</summary>
    public required string Framework { get; init; }

    /// <summary>The inputs as JSON text, as registered.</summary>
    public string? InputSignature { get; init; }

    /// <summary>The outputs as JSON text, as registered.</summary>
    public string? OutputSignature { get; init; }

    /// <summary>Who registered it.</summary>
    public string? Creator { get; init; }

    /// <summary>When it was registered, UTC, to the microsecond.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Free text about this version.</summary>
    public string? Description { get; init; }

    /// <summary>Free-form labels.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Where the artifact came from (lineage).</summary>
    public string? SourceUri { get; init; }

    /// <summary>The training run that produced it (lineage).</summary>
    public string? TrainingRunId { get; init; }

    /// <summary>The model configuration as JSON text, as registered.</summary>
    public string? ConfigJson { get; init; }

    /// <summary>Where it is in its lifecycle.</summary>
    public required VersionState State { get; init; }

    /// <summary>Why it is in that state (e.g. the load error); null when none was given.</summary>
    public string? Reason { get; init; }

    /// <summary>The artifact's wrapped data key for encryption at rest; opaque to the registry.</summary>
    public byte[]? WrappedDataKey { get; init; }

    /// <summary>Which key-encryption key wrapped <see cref="WrappedDataKey"/>.</summary>
    public string? KeyId { get; init; }

    /// <summary>The regions this version may be loaded and served in (data residency); null for anywhere.</summary>
    public IReadOnlyList<string>? AllowedRegions { get; init; }

    /// <summary>Lineage: the version of the same model this one was derived from (e.g. by <c>quiver optimize</c>).</summary>
    public long? DerivedFrom { get; init; }

    /// <summary>The optimization report (JSON) of a derived version: mode, sizes, accuracy and speed against the original.</summary>
    public string? OptimizationReport { get; init; }
}
