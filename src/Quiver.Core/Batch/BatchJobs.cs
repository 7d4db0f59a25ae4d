using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Quiver.Core.Batch;

/// <summary>What a server-side job is asked to do.</summary>
public sealed record BatchJobSpec
{
    /// <summary>The served model's name.</summary>
    public required string Model { get; init; }

    /// <summary>Its version or alias; null for the one the server serves by default.</summary>
    public string? Version { get; init; }

    /// <summary>The input file, a path on the server.</summary>
    public required string Input { get; init; }

    /// <summary>The output format: jsonl or csv; defaults to the output's extension, else jsonl.</summary>
    public string? OutputFormat { get; init; }

    /// <summary>
    /// The output file, a path on the server under the allowed output root; null for ROOT/ID/output.jsonl. Its error
    /// file and checkpoint go beside it (OUTPUT.errors.jsonl, OUTPUT.checkpoint.json).
    /// </summary>
    public string? Output { get; init; }

    /// <summary>Replace an existing <see cref="Output"/>; without it, an existing one is refused.</summary>
    public bool Overwrite { get; init; }

    public string? InputFormat { get; init; }

    public string? Delimiter { get; init; }

    public Dictionary<string, string[]>? Map { get; init; }

    /// <summary>Rows per run; defaults to 256, capped at the model's max_batch_size.</summary>
    public int? BatchSize { get; init; }

    public long? MaxErrors { get; init; }

    /// <summary>At most this many rows per second; null for as fast as the batch priority class allows.</summary>
    public double? RowsPerSecond { get; init; }
}

/// <summary>Where a server-side job is.</summary>
public enum BatchJobState { Queued, Running, Completed, Failed, Cancelled }

/// <summary>A server-side job as stored and reported.</summary>
public sealed record BatchJob
{
    public required string Id { get; init; }

    public required BatchJobSpec Spec { get; init; }

    public required BatchJobState State { get; init; }

    /// <summary>Why it failed, when it did.</summary>
    public string? Error { get; init; }

    /// <summary>The resolved model, e.g. "iris:2".</summary>
    public string? ModelVersion { get; init; }

    public long RowsProcessed { get; init; }

    public long RowsWritten { get; init; }

    public long RowsFailed { get; init; }

    public long BytesDone { get; init; }

    public long BytesTotal { get; init; }

    /// <summary>The input row the last (re)start resumed from, after a server restart; null when it ran from the start.</summary>
    public long? ResumedAtRow { get; init; }

    public required string OutputPath { get; init; }

    public required string ErrorsPath { get; init; }

    /// <summary>
    /// Whether the input is an upload the server sealed (<see cref="BatchJobManager.SubmitUploadAsync"/>): read through
    /// the upload key, and deleted once the job has ended. Set by the server only, never from a submitted spec.
    /// </summary>
    public bool Upload { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>How jobs are written, in the registry and by the admin API: snake_case names, enum names in lower case.</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>Whether the job can still change.</summary>
    [JsonIgnore]
    public bool Active => State is BatchJobState.Queued or BatchJobState.Running;
}

/// <summary>Keeps jobs across restarts.</summary>
public interface IBatchJobStore
{
    void Save(BatchJob job);

    IReadOnlyList<BatchJob> LoadAll();
}

/// <summary>
/// Jobs in the registry database, under this replica's name: with replicas sharing PostgreSQL each resumes only the
/// jobs it accepted (their outputs are on its disk).
/// </summary>
public sealed class RegistryBatchJobStore(Registry.IModelRegistry registry, string replica) : IBatchJobStore
{
    // Called from the job thread and request threads, never from a synchronization context: waiting is safe.
    public void Save(BatchJob job) =>
        registry.SaveBatchJobAsync(job.Id, replica, JsonSerializer.Serialize(job, BatchJob.Json)).GetAwaiter().GetResult();

    public IReadOnlyList<BatchJob> LoadAll() =>
        registry.GetBatchJobsAsync(replica).GetAwaiter().GetResult()
            .Select(r => JsonSerializer.Deserialize<BatchJob>(r, BatchJob.Json)!)
            .OrderBy(j => j.CreatedAt)
            .ToList();
}

/// <summary>A model ready for a job: how checkpoints know it, what runs its batches, and its sensitive inputs (for the error file).</summary>
public sealed record ResolvedBatchModel(BatchModel Model, IBatchEngine Engine, Security.SensitiveValues? Privacy = null);

/// <summary>
/// Runs server-side jobs one at a time on a background thread, in the models' batch priority class. Job records are in
/// the store, outputs and checkpoints under ROOT/ID, so after a restart <see cref="Start"/> resumes the unfinished jobs
/// where they stopped.
/// </summary>
public sealed class BatchJobManager : IAsyncDisposable
{
    private readonly IBatchJobStore _store;
    private readonly Func<BatchJobSpec, ResolvedBatchModel> _resolve;
    private readonly string _root;
    private readonly TimeProvider _time;
    private readonly OutputLocation _outputs;
    private readonly ConcurrentDictionary<string, BatchJob> _jobs = new();
    private readonly ConcurrentDictionary<string, CancellationTokenSource> _cancels = new();
    private readonly BlockingCollection<string> _queue = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _saveLock = new();
    private Thread? _worker;

    /// <param name="store">Where jobs are kept.</param>
    /// <param name="root">The folder for each job's output, error file and checkpoint (ROOT/ID/…).</param>
    /// <param name="resolve">Finds the served model a spec names; throws <see cref="BatchException"/> when it cannot.</param>
    /// <param name="time">The clock for timestamps and checkpoint intervals.</param>
    /// <param name="outputRoot">The only folder a job's own output location may be under; defaults to <paramref name="root"/>.</param>
    public BatchJobManager(IBatchJobStore store, string root, Func<BatchJobSpec, ResolvedBatchModel> resolve, TimeProvider? time = null,
        string? outputRoot = null)
    {
        _store = store;
        _root = root;
        _resolve = resolve;
        _time = time ?? TimeProvider.System;
        _outputs = new OutputLocation(outputRoot ?? root);
    }

    /// <summary>Time between a running job's checkpoints. Defaults to 5 s.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The key uploads are sealed with; null when this manager takes no uploads.</summary>
    public UploadCipher? Uploads { get; init; }

    /// <summary>Loads stored jobs, queues the unfinished ones (they resume from their checkpoints), and starts the worker.</summary>
    public void Start()
    {
        foreach (BatchJob job in _store.LoadAll())
        {
            _jobs[job.Id] = job;
            if (job.Active)
            {
                _queue.Add(job.Id);
            }
            else
            {
                // Ended just before the last stop, before its upload was removed.
                DeleteUpload(job);
            }
        }

        _worker = new Thread(Work) { IsBackground = true, Name = "batch-jobs" };
        _worker.Start();
    }

    /// <summary>Every job, oldest first.</summary>
    public IReadOnlyList<BatchJob> List() => _jobs.Values.OrderBy(j => j.CreatedAt).ToList();

    public BatchJob? Get(string id) => _jobs.GetValueOrDefault(id);

    /// <summary>Checks the spec (model, input, mapping) and queues the job; throws <see cref="BatchException"/> when it cannot run.</summary>
    /// <param name="spec">The job.</param>
    /// <param name="hiddenModelMessage">
    /// Set when the submitter may not see the model (another tenant's): the model is refused with this not-found
    /// message at the point where the resolver would look for it, so every other check answers as for a missing model.
    /// </param>
    public BatchJob Submit(BatchJobSpec spec, string? hiddenModelMessage = null) => Submit(spec, hiddenModelMessage, upload: false);

    /// <summary>
    /// Seals <paramref name="input"/> (read to its end) under ROOT/uploads, then checks and queues a job over it like
    /// <see cref="Submit(BatchJobSpec, string?)"/>; the upload is deleted when the job is refused and once it ends.
    /// </summary>
    /// <param name="spec">The job; its <see cref="BatchJobSpec.Input"/> is replaced by the upload's path.</param>
    /// <param name="input">The input's bytes in clear; only ciphertext reaches the disk.</param>
    /// <param name="format">The input's format, which names the file's extension.</param>
    /// <param name="hiddenModelMessage">As for <see cref="Submit(BatchJobSpec, string?)"/>.</param>
    /// <param name="cancellationToken">Stops the upload; what was written is deleted.</param>
    public async Task<BatchJob> SubmitUploadAsync(BatchJobSpec spec, Stream input, InputFormat format, string? hiddenModelMessage,
        CancellationToken cancellationToken)
    {
        UploadCipher cipher = Uploads ?? throw new InvalidOperationException("This job manager has no upload key.");
        string uploads = Path.Combine(_root, "uploads");
        Directory.CreateDirectory(uploads);
        string path = Path.Combine(uploads, $"{Guid.NewGuid():N}.{format.Name()}");
        try
        {
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await cipher.SealAsync(input, file, cancellationToken);
            }

            return await Task.Run(() => Submit(spec with { Input = path }, hiddenModelMessage, upload: true), cancellationToken);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    private BatchJob Submit(BatchJobSpec spec, string? hiddenModelMessage, bool upload)
    {
        if (string.IsNullOrWhiteSpace(spec.Model) || string.IsNullOrWhiteSpace(spec.Input))
        {
            throw new BatchException(BatchErrorKind.Usage, "a job needs \"model\" and \"input\" (a file path on the server).");
        }

        if (!File.Exists(spec.Input))
        {
            throw new BatchException(BatchErrorKind.Input, $"input '{spec.Input}' does not exist on the server.");
        }

        ResolvedBatchModel resolved = hiddenModelMessage is null ? _resolve(spec) : throw new BatchException(BatchErrorKind.ModelNotFound, hiddenModelMessage);
        int max = resolved.Engine.MaxBatchSize;
        if (max > 0 && spec.BatchSize > max)
        {
            throw new BatchException(BatchErrorKind.Usage, $"batch_size {spec.BatchSize} is more than the model takes in one run (max_batch_size {max}).");
        }

        string id = Guid.NewGuid().ToString("N")[..12];
        string output;
        if (spec.Output is { } requested)
        {
            output = _outputs.Check(requested, spec.Overwrite);
            if (_jobs.Values.FirstOrDefault(j => j.Active && j.OutputPath == output) is { } other)
            {
                throw new BatchException(BatchErrorKind.Output, $"output '{requested}' is the output of job '{other.Id}', which is still {other.State.ToString().ToLowerInvariant()}.");
            }

            spec = spec with { Output = output };
        }
        else
        {
            string extension = BatchFormats.ParseOutput(spec.OutputFormat ?? "jsonl") == OutputFormat.Csv ? "csv" : "jsonl";
            output = Path.Combine(_root, id, "output." + extension);
        }

        var job = new BatchJob
        {
            Id = id,
            Spec = spec,
            State = BatchJobState.Queued,
            ModelVersion = resolved.Model.Display,
            OutputPath = output,
            ErrorsPath = output + ".errors.jsonl",
            Upload = upload,
            CreatedAt = _time.GetUtcNow(),
            UpdatedAt = _time.GetUtcNow(),
        };
        Options(job, resolved.Engine, resume: false).Validate();
        Save(job);
        _queue.Add(id);
        return job;
    }

    /// <summary>Cancels a queued or running job; returns it, or null when there is no such job.</summary>
    public BatchJob? Cancel(string id)
    {
        if (!_jobs.TryGetValue(id, out BatchJob? job))
        {
            return null;
        }

        if (job.Active)
        {
            Update(id, j => j with { State = BatchJobState.Cancelled });
            if (_cancels.TryGetValue(id, out CancellationTokenSource? running))
            {
                running.Cancel();
            }
        }

        return _jobs[id];
    }

    public async ValueTask DisposeAsync()
    {
        // Running jobs stop at a checkpoint and stay "running" in the store, so the next start resumes them.
        _stopping.Cancel();
        _queue.CompleteAdding();
        if (_worker is not null)
        {
            await Task.Run(_worker.Join);
        }

        _stopping.Dispose();
        _queue.Dispose();
    }

    private void Work()
    {
        try
        {
            foreach (string id in _queue.GetConsumingEnumerable(_stopping.Token))
            {
                if (_jobs.TryGetValue(id, out BatchJob? job) && job.Active)
                {
                    RunJob(job);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void RunJob(BatchJob job)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        _cancels[job.Id] = cancel;
        try
        {
            // A DELETE after the worker took the job but before its token was registered found none to cancel.
            if (_jobs[job.Id].State == BatchJobState.Cancelled)
            {
                cancel.Cancel();
            }

            cancel.Token.ThrowIfCancellationRequested();
            ResolvedBatchModel resolved = _resolve(job.Spec);
            bool resume = job.State == BatchJobState.Running;
            job = Update(job.Id, j => j with { State = BatchJobState.Running, ModelVersion = resolved.Model.Display });
            var runner = new BatchRunner(Options(job, resolved.Engine, resume) with { Privacy = resolved.Privacy }, resolved.Model, resolved.Engine, _time)
            {
                Resumed = at => Update(job.Id, j => j with { ResumedAtRow = at }),
            };
            long lastSave = 0;
            BatchResult result = runner.Run(progress =>
            {
                // Progress is kept in memory at every batch and stored about once a second.
                BatchJob updated = Update(job.Id, j => j with
                {
                    RowsProcessed = progress.RowsProcessed, RowsFailed = progress.RowsFailed,
                    RowsWritten = progress.RowsProcessed - progress.RowsFailed,
                    BytesDone = progress.BytesDone, BytesTotal = progress.BytesTotal,
                }, store: false);
                if (_time.GetElapsedTime(lastSave) >= TimeSpan.FromSeconds(1))
                {
                    Save(updated);
                    lastSave = _time.GetTimestamp();
                }
            }, cancel.Token);
            Update(job.Id, j => j with
            {
                State = BatchJobState.Completed, RowsProcessed = result.RowsProcessed, RowsWritten = result.RowsWritten,
                RowsFailed = result.RowsFailed, BytesDone = j.BytesTotal,
            });
        }
        catch (OperationCanceledException)
        {
            // Cancelled by DELETE (already marked), or the server is stopping (stays running, resumed at the next start).
            if (_jobs[job.Id].State == BatchJobState.Cancelled)
            {
                Save(_jobs[job.Id]);
            }
        }
        catch (BatchException e)
        {
            Update(job.Id, j => j with { State = BatchJobState.Failed, Error = e.Message });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file the runner did not expect to fail (its input removed under it): the job fails, the server stays up.
            Update(job.Id, j => j with { State = BatchJobState.Failed, Error = $"cannot read or write the job's files: {e.Message}" });
        }
        finally
        {
            _cancels.TryRemove(job.Id, out _);
        }
    }

    // An ended job cannot resume, so its upload has no further use; an unfinished one keeps it to resume from.
    private static void DeleteUpload(BatchJob job)
    {
        if (!job.Upload)
        {
            return;
        }

        try
        {
            File.Delete(job.Spec.Input);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Sealed, so nothing is exposed while it stays; the next start tries again.
        }
    }

    private BatchOptions Options(BatchJob job, IBatchEngine engine, bool resume)
    {
        BatchJobSpec spec = job.Spec;
        int batchSize = spec.BatchSize ?? 256;
        if (engine.MaxBatchSize > 0 && spec.BatchSize is null)
        {
            batchSize = Math.Min(batchSize, engine.MaxBatchSize);
        }

        return new BatchOptions
        {
            InputPath = spec.Input,
            InputCipher = job.Upload ? Uploads ?? throw new BatchException(BatchErrorKind.Input, "the job's input is an upload, and this server has no upload key.") : null,
            OutputPath = job.OutputPath,
            ErrorsPath = job.ErrorsPath,
            InputFormat = spec.InputFormat is { } input
                ? BatchFormats.ParseInput(input) ?? throw new BatchException(BatchErrorKind.Usage, $"input_format '{input}' is not csv, jsonl or npy.")
                : null,
            OutputFormat = spec.OutputFormat is null ? BatchFormats.OutputFromPath(job.OutputPath) : BatchFormats.ParseOutput(spec.OutputFormat)
                ?? throw new BatchException(BatchErrorKind.Usage, $"output_format '{spec.OutputFormat}' is not jsonl or csv."),
            Delimiter = spec.Delimiter is { Length: 1 } d ? d[0] : spec.Delimiter is null ? null
                : throw new BatchException(BatchErrorKind.Usage, "delimiter must be one character."),
            Mapping = spec.Map ?? new Dictionary<string, string[]>(),
            BatchSize = batchSize,
            MaxErrors = spec.MaxErrors,
            Resume = resume,
            Overwrite = !resume,
            CheckpointInterval = CheckpointInterval,
            RowsPerSecondLimit = spec.RowsPerSecond,
            LowPriority = true,
        };
    }

    private BatchJob Update(string id, Func<BatchJob, BatchJob> change, bool store = true)
    {
        lock (_saveLock)
        {
            BatchJob updated = change(_jobs[id]) with { UpdatedAt = _time.GetUtcNow() };
            // A cancellation marked meanwhile wins over progress reports.
            if (_jobs[id].State == BatchJobState.Cancelled && updated.State != BatchJobState.Cancelled)
            {
                updated = updated with { State = BatchJobState.Cancelled };
            }

            if (store)
            {
                _store.Save(updated);
                // Stored as ended first (a crash now leaves an ended job, not one that cannot resume), and removed
                // before the end is visible, so a client that sees the job ended finds its upload gone.
                if (!updated.Active)
                {
                    DeleteUpload(updated);
                }
            }

            _jobs[id] = updated;
            return updated;
        }
    }

    private void Save(BatchJob job)
    {
        lock (_saveLock)
        {
            _jobs[job.Id] = job;
            _store.Save(job);
        }
    }
}
