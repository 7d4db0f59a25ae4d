namespace Quiver.Core.Batch;

/// <summary>One batch job over a file. Validate with <see cref="Validate"/>, which lists every problem at once.</summary>
public sealed record BatchOptions
{
    /// <summary>The model's sensitive inputs, shown in the error file only as pseudonyms; null when it has none.</summary>
    public Security.SensitiveValues? Privacy { get; init; }

    /// <summary>The input file.</summary>
    public required string InputPath { get; init; }

    /// <summary>The key the input file was sealed with (a server-side job's upload); null for a file in clear.</summary>
    public UploadCipher? InputCipher { get; init; }

    /// <summary>The output file.</summary>
    public required string OutputPath { get; init; }

    /// <summary>Where rejected rows go. Defaults to OUTPUT.errors.jsonl.</summary>
    public string? ErrorsPath { get; init; }

    /// <summary>Where progress is checkpointed. Defaults to OUTPUT.checkpoint.json.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>The input layout; null picks it from the file name.</summary>
    public InputFormat? InputFormat { get; init; }

    /// <summary>The output layout; null picks it from the file name.</summary>
    public OutputFormat? OutputFormat { get; init; }

    /// <summary>The CSV field delimiter. Defaults to ',' (tab for .tsv files).</summary>
    public char? Delimiter { get; init; }

    /// <summary>Explicit column → input mapping: input name → its columns in feature order. Empty uses the default mapping.</summary>
    public IReadOnlyDictionary<string, string[]> Mapping { get; init; } = new Dictionary<string, string[]>();

    /// <summary>Rows per model run. Defaults to 256.</summary>
    public int BatchSize { get; init; } = 256;

    /// <summary>
    /// Rows read, run (in batches of <see cref="BatchSize"/>) and written as one chunk. Handing a chunk from the reader
    /// to the model to the writer wakes a sleeping thread, which costs tens of microseconds on a virtual machine, so it
    /// is done per ~2,048 rows rather than per batch. Errors, progress and <see cref="MaxErrors"/> are counted a chunk
    /// at a time. At least one batch; a rate-limited job (<see cref="RowsPerSecondLimit"/>) takes one batch per chunk.
    /// </summary>
    public int ChunkRows { get; init; } = 2048;

    /// <summary>Threads that parse rows of a batch in parallel. Defaults to 1.</summary>
    public int ParseThreads { get; init; } = 1;

    /// <summary>Failed rows allowed before the job aborts; null allows any number.</summary>
    public long? MaxErrors { get; init; }

    /// <summary>The part of the input this run processes. Defaults to all of it.</summary>
    public ShardSpec Shard { get; init; } = ShardSpec.All;

    /// <summary>Continue from the checkpoint, if there is one.</summary>
    public bool Resume { get; init; }

    /// <summary>Replace an existing output (and its error and checkpoint files).</summary>
    public bool Overwrite { get; init; }

    /// <summary>Time between checkpoints. Defaults to 5 s: at most 5 s of work is redone after a crash.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// At most this many rows per second; null runs as fast as the machine allows. For sharing a machine with online
    /// traffic, or a downstream store, with a batch job.
    /// </summary>
    public double? RowsPerSecondLimit { get; init; }

    /// <summary>
    /// Runs the job's reading, parsing and writing at the operating system's lowest priority, so that they take only
    /// the CPU a server's requests leave (server jobs). The inferences have their own priority, in the scheduler.
    /// </summary>
    public bool LowPriority { get; init; }

    /// <summary>The longest input record accepted, in bytes. Defaults to 16 MiB; a longer one is a row error.</summary>
    public int MaxRecordBytes { get; init; } = 16 << 20;

    /// <summary>The error file's path, default applied.</summary>
    public string ResolvedErrorsPath => ErrorsPath ?? OutputPath + ".errors.jsonl";

    /// <summary>The checkpoint's path, default applied.</summary>
    public string ResolvedCheckpointPath => CheckpointPath ?? OutputPath + ".checkpoint.json";

    /// <summary>Throws a <see cref="BatchErrorKind.Usage"/> error listing every problem, or returns.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(InputPath))
        {
            problems.Add("--input is required.");
        }

        if (string.IsNullOrWhiteSpace(OutputPath))
        {
            problems.Add("--output is required.");
        }

        if (BatchSize < 1)
        {
            problems.Add($"--batch-size must be at least 1, got {BatchSize}.");
        }

        if (ParseThreads < 1)
        {
            problems.Add($"--threads must be at least 1, got {ParseThreads}.");
        }

        if (MaxErrors < 0)
        {
            problems.Add($"--max-errors must be 0 or more, got {MaxErrors}.");
        }

        if (CheckpointInterval <= TimeSpan.Zero)
        {
            problems.Add("--checkpoint-interval must be positive.");
        }

        if (RowsPerSecondLimit <= 0)
        {
            problems.Add($"--rate must be positive, got {RowsPerSecondLimit}.");
        }

        if (Delimiter is '"' or '\n' or '\r')
        {
            problems.Add("--delimiter cannot be a quote or a line break.");
        }

        if (InputFormat is null && !string.IsNullOrWhiteSpace(InputPath) && BatchFormats.InputFromPath(InputPath) is null)
        {
            problems.Add($"cannot tell the format of '{InputPath}' from its extension; pass --input-format csv|jsonl|npy.");
        }

        if (!string.IsNullOrWhiteSpace(InputPath) && !string.IsNullOrWhiteSpace(OutputPath)
            && Path.GetFullPath(InputPath) == Path.GetFullPath(OutputPath))
        {
            problems.Add("--output is the input file.");
        }

        if (problems.Count > 0)
        {
            throw new BatchException(BatchErrorKind.Usage, string.Join(Environment.NewLine, problems));
        }
    }
}
