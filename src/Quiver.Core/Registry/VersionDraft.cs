namespace Quiver.Core.Registry;

/// <summary>What a caller supplies to register a version; the registry adds the number, the time and the state.</summary>
public sealed record VersionDraft
{
    /// <summary>The model name; the model is created when this is its first version.</summary>
    public required string Model { get; init; }

    /// <summary>
    /// A specific number for the version (e.g. a repository folder's), or null for the model's next. A specific number
    /// must be higher than every number the model has had, so numbers still never repeat.
    /// </summary>
    public long? Version { get; init; }

    /// <summary>
    /// The tenant that owns the model: set when this version creates the model; for an existing model it must match
    /// its owner (null leaves the owner as it is).
    /// </summary>
    public string? Tenant { get; init; }

    /// <summary>The artifact's SHA-256 as 64 hex digits (stored lowercase).</summary>
    public required string Sha256 { get; init; }

    /// <summary>The artifact's size in bytes.</summary>
    public required long SizeBytes { get; init; }

    /// <summary>The artifact's framework. Defaults to "onnx".</summary>
    public string Framework { get; init; } = "onnx";

    /// <summary>The inputs as JSON text, stored as given.</summary>
    public string? InputSignature { get; init; }

    /// <summary>The outputs as JSON text, stored as given.</summary>
    public string? OutputSignature { get; init; }

    /// <summary>Who registered it (user or token name).</summary>
    public string? Creator { get; init; }

    /// <summary>Free text about this version.</summary>
    public string? Description { get; init; }

    /// <summary>Free-form labels.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Where the artifact came from (lineage).</summary>
    public string? SourceUri { get; init; }

    /// <summary>The training run that produced it (lineage).</summary>
    public string? TrainingRunId { get; init; }

    /// <summary>The model configuration as JSON text, stored as given.</summary>
    public string? ConfigJson { get; init; }

    /// <summary>The artifact's data key wrapped by a key-encryption key; opaque to the registry.</summary>
    public byte[]? WrappedDataKey { get; init; }

    /// <summary>Which key-encryption key wrapped <see cref="WrappedDataKey"/>.</summary>
    public string? KeyId { get; init; }

    /// <summary>The regions this version may be loaded and served in (data residency); null for anywhere.</summary>
    public IReadOnlyList<string>? AllowedRegions { get; init; }

    /// <summary>The model's description, used only when this registration creates the model.</summary>
    public string? ModelDescription { get; init; }

    /// <summary>Lineage: the version of the same model this one was derived from (e.g. by <c>quiver optimize</c>).</summary>
    public long? DerivedFrom { get; init; }

    /// <summary>The optimization report (JSON) of a derived version: mode, sizes, accuracy and speed against the original.</summary>
    public string? OptimizationReport { get; init; }
}
