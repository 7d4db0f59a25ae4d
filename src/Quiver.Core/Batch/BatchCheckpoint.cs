using System.Text.Json;
using System.Text.Json.Serialization;

namespace Quiver.Core.Batch;

/// <summary>
/// Where a job stands, written atomically (temporary file, fsync, rename) after the output and error files are
/// flushed up to <see cref="OutputLength"/> and <see cref="ErrorsLength"/>. Resuming truncates both files back to
/// those lengths and reads on from <see cref="InputOffset"/>, so no row is written twice or lost.
/// </summary>
public sealed record BatchCheckpoint
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>The input path as given, for messages.</summary>
    public required string Input { get; init; }

    public required InputFingerprint InputFingerprint { get; init; }

    /// <summary>The model as given (file path or NAME:VERSION), for messages.</summary>
    public required string Model { get; init; }

    /// <summary>SHA-256 of the model file.</summary>
    public required string ModelSha256 { get; init; }

    public required string Shard { get; init; }

    public required string InputFormat { get; init; }

    public required string OutputFormat { get; init; }

    /// <summary>The column → input mapping, as <c>InputLayout.Describe</c> writes it.</summary>
    public required string Mapping { get; init; }

    /// <summary>Rows per model run; kept so a resumed job groups rows, and so computes, exactly as before.</summary>
    public required int BatchSize { get; init; }

    /// <summary>Byte offset of the next record to read.</summary>
    public required long InputOffset { get; init; }

    /// <summary>0-based index (in the whole input) of the next row.</summary>
    public required long NextRow { get; init; }

    /// <summary>1-based line of the next record (0 for .npy).</summary>
    public required long NextLine { get; init; }

    /// <summary>This shard's rows done so far: written plus failed.</summary>
    public required long RowsProcessed { get; init; }

    public required long RowsWritten { get; init; }

    public required long RowsFailed { get; init; }

    public required long OutputLength { get; init; }

    public required long ErrorsLength { get; init; }

    /// <summary>Values per row of each output, fixed by the first batch (CSV columns depend on them); null before it.</summary>
    public int[]? OutputWidths { get; init; }

    /// <summary>Whether the job reached the end of its input.</summary>
    public bool Completed { get; init; }

    public DateTimeOffset Updated { get; init; }

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Reads a checkpoint; throws a <see cref="BatchErrorKind.Checkpoint"/> error when it is damaged.</summary>
    public static BatchCheckpoint Load(string path)
    {
        try
        {
            BatchCheckpoint? checkpoint = JsonSerializer.Deserialize<BatchCheckpoint>(File.ReadAllBytes(path), s_json);
            if (checkpoint is null || checkpoint.Version != CurrentVersion)
            {
                throw new BatchException(BatchErrorKind.Checkpoint,
                    $"checkpoint '{path}' has version {checkpoint?.Version}; this quiver reads version {CurrentVersion}.");
            }

            return checkpoint;
        }
        catch (JsonException e)
        {
            throw new BatchException(BatchErrorKind.Checkpoint, $"checkpoint '{path}' is damaged ({e.Message}); delete it and run without --resume.", e);
        }
    }

    /// <summary>Writes the checkpoint so that a crash leaves either the old one or the new one, never a torn file.</summary>
    public void Save(string path)
    {
        string temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, this, s_json);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Why this checkpoint cannot continue a job with <paramref name="current"/>'s settings; empty when it can.</summary>
    public List<string> Mismatches(BatchCheckpoint current)
    {
        var reasons = new List<string>();
        if (InputFingerprint != current.InputFingerprint)
        {
            reasons.Add(InputFingerprint.Length != current.InputFingerprint.Length
                ? $"it was written for a different input: '{Input}' of {InputFingerprint.Length} bytes, and '{current.Input}' has {current.InputFingerprint.Length}"
                : $"it was written for a different input: '{current.Input}' has the same size as '{Input}' had, but different content");
        }

        if (ModelSha256 != current.ModelSha256)
        {
            reasons.Add($"it was written for a different model: '{Model}' (sha256 {ModelSha256[..12]}…), not '{current.Model}' (sha256 {current.ModelSha256[..12]}…)");
        }

        Compare(reasons, "--shard", Shard, current.Shard);
        Compare(reasons, "input format", InputFormat, current.InputFormat);
        Compare(reasons, "output format", OutputFormat, current.OutputFormat);
        Compare(reasons, "column mapping", Mapping, current.Mapping);
        Compare(reasons, "--batch-size", BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            current.BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return reasons;
    }

    private static void Compare(List<string> reasons, string what, string before, string now)
    {
        if (before != now)
        {
            reasons.Add($"it was written with {what} {before}, this run has {now}");
        }
    }
}
