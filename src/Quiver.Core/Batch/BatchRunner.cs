using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>
/// Runs a batch job: splits the input into records on a reader thread, parses them a chunk (a few batches,
/// <see cref="BatchOptions.ChunkRows"/>) at a time, runs each batch through the model and appends results and rejected
/// rows to their files, checkpointing every <see cref="BatchOptions.CheckpointInterval"/>. A chunk's results are
/// formatted and written on another thread (<see cref="WriterThread"/>) while the model runs the next chunk, so the
/// engine is not kept waiting for the text.
/// Memory is bounded by four chunks in flight, whatever the file size.
/// </summary>
public sealed class BatchRunner(BatchOptions options, BatchModel model, IBatchEngine session, TimeProvider? time = null)
{
    /// <summary>A runner with its own ONNX Runtime session.</summary>
    public BatchRunner(BatchOptions options, BatchModel model, InferenceSession session, TimeProvider? time = null)
        : this(options, model, new SessionEngine(session), time)
    {
    }

    // Four chunks: one being read and parsed, one waiting, one being inferred, one being written.
    private const int ChunksInFlight = 4;

    // However many rows BatchOptions.ChunkRows asks for, the tensors of a chunk stay under 4 MiB.
    private const int MaxChunkTensorBytes = 4 << 20;

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Told the input row a resumed run continues from, before it reads a row.</summary>
    public Action<long>? Resumed { get; init; }

    /// <summary>Runs the job to the end of its input (or its shard). Throws <see cref="BatchException"/> when it cannot.</summary>
    public BatchResult Run(Action<BatchProgress>? progress, CancellationToken cancellationToken)
    {
        options.Validate();
        if (session.MaxBatchSize > 0 && options.BatchSize > session.MaxBatchSize)
        {
            throw new BatchException(BatchErrorKind.Usage,
                $"--batch-size {options.BatchSize} is more than the model takes in one run (max_batch_size {session.MaxBatchSize}).");
        }

        long started = _time.GetTimestamp();
        InputFormat format = options.InputFormat ?? BatchFormats.InputFromPath(options.InputPath)!.Value;
        OutputFormat outputFormat = options.OutputFormat ?? BatchFormats.OutputFromPath(options.OutputPath);
        char delimiter = options.Delimiter ?? (Path.GetExtension(options.InputPath).Equals(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : ',');
        char outputDelimiter = Path.GetExtension(options.OutputPath).Equals(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : ',';

        using RecordSource source = OpenInput(format);
        var (columns, dataStart, dataLine) = ReadColumns(source, format, delimiter);
        InputLayout layout = InputLayout.Resolve(columns, session.Inputs, options.Mapping, format, delimiter);
        RowParser parser = RowParser.Create(layout, format, delimiter, options.Privacy);

        var identity = new BatchCheckpoint
        {
            Input = options.InputPath,
            InputFingerprint = Fingerprint(options.InputPath),
            Model = model.Display,
            ModelSha256 = model.Sha256,
            Shard = options.Shard.ToString(),
            InputFormat = format.Name(),
            OutputFormat = outputFormat.Name(),
            Mapping = layout.Describe(),
            BatchSize = options.BatchSize,
            InputOffset = dataStart,
            NextRow = 0,
            NextLine = dataLine,
            RowsProcessed = 0,
            RowsWritten = 0,
            RowsFailed = 0,
            OutputLength = 0,
            ErrorsLength = 0,
        };

        string checkpointPath = options.ResolvedCheckpointPath;
        BatchCheckpoint? resumed = options.Resume && File.Exists(checkpointPath) ? BatchCheckpoint.Load(checkpointPath) : null;
        if (resumed is not null)
        {
            List<string> reasons = resumed.Mismatches(identity);
            if (reasons.Count > 0)
            {
                throw new BatchException(BatchErrorKind.Checkpoint,
                    $"cannot resume from checkpoint '{checkpointPath}': {string.Join("; ", reasons)}. Run the original job again, or start over with --overwrite (without --resume).");
            }

            if (resumed.Completed)
            {
                return Result(resumed, 0, _time.GetElapsedTime(started), resumed.NextRow) with { AlreadyCompleted = true };
            }

            Resumed?.Invoke(resumed.NextRow);
        }

        var (outputFile, errorsFile) = OpenOutputs(resumed, checkpointPath);
        using OutputWriter writer = OutputWriter.Create(outputFormat, outputFile, session.Outputs, outputDelimiter);
        using var errors = new ErrorLog(errorsFile);
        BatchCheckpoint state = resumed ?? identity;
        int[]? widths = state.OutputWidths;
        if (resumed is null)
        {
            // A checkpoint from the first moment: a job killed before its first periodic checkpoint still resumes
            // (from the start) instead of finding an output it cannot account for.
            (state with { Updated = _time.GetUtcNow() }).Save(checkpointPath);
            widths = StaticWidths(session.Outputs);
            if (widths is not null && writer.Header(widths) is { } header)
            {
                writer.WriteHeader(header);
            }
        }

        source.Seek(state.InputOffset, state.NextLine);
        long rowsThisRun = 0;
        long runStarted = _time.GetTimestamp();
        long lastCheckpoint = _time.GetTimestamp();

        void Checkpoint(bool completed)
        {
            writer.Flush(toDisk: true);
            errors.Flush(toDisk: true);
            state = state with
            {
                OutputLength = writer.Length,
                ErrorsLength = errors.Length,
                OutputWidths = widths,
                Completed = completed,
                Updated = _time.GetUtcNow(),
            };
            state.Save(checkpointPath);
            lastCheckpoint = _time.GetTimestamp();
            // The few objects each batch still allocates die young, but the GC sizes its youngest generation from the
            // CPU's cache (hundreds of MiB on large server parts) and collects it only when that fills: without this,
            // a long job's resident memory would creep up to that size. Cheap: almost nothing is alive.
            GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var filled = new HandOffQueue<RecordChunk>(ChunksInFlight - 1);
        var free = new HandOffQueue<RecordChunk>(ChunksInFlight);
        for (int i = 0; i < ChunksInFlight; i++)
        {
            free.Add(new RecordChunk(layout, RunsPerChunk(layout), options.BatchSize), CancellationToken.None);
        }

        Exception? readerFailure = null;
        var reader = new Thread(() =>
        {
            if (options.LowPriority)
            {
                BackgroundPriority.LowerCurrentThread();
            }

            try
            {
                Read(source, parser, state.NextRow, free, filled, stop.Token);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                readerFailure = e;
            }
            catch (OperationCanceledException)
            {
                // The writer side stopped; it reports why.
            }
            finally
            {
                filled.CompleteAdding();
            }
        })
        { IsBackground = true, Name = "batch-reader" };
        reader.Start();

        // The chunk whose results are being written while the next one runs; its rows count once they are written.
        using var background = new WriterThread(options.LowPriority);
        RecordChunk? writing = null;

        void FinishWriting()
        {
            if (writing is not { } pending)
            {
                return;
            }

            writing = null;
            background.Wait();
            Account(pending);
        }

        void Account(RecordChunk chunk)
        {
            long failed = 0;
            for (int i = 0; i < chunk.Count; i++)
            {
                if (chunk.Errors[i] is { } reason)
                {
                    errors.Write(chunk.Rows[i], chunk.Lines[i], reason);
                    failed++;
                }
            }

            if (options.MaxErrors is { } max && state.RowsFailed + failed > max)
            {
                writer.Flush(toDisk: false);
                errors.Flush(toDisk: false);
                throw new BatchException(BatchErrorKind.TooManyErrors,
                    $"{state.RowsFailed + failed} rows failed, more than --max-errors {max} allows; the reasons are in '{options.ResolvedErrorsPath}'. " +
                    "Fix the input, or raise --max-errors; --resume then continues from the last checkpoint.");
            }

            rowsThisRun += chunk.Count;
            state = state with
            {
                InputOffset = chunk.EndPosition,
                NextRow = chunk.NextRow,
                NextLine = chunk.NextLine,
                RowsProcessed = state.RowsProcessed + chunk.Count,
                RowsWritten = state.RowsWritten + chunk.Good,
                RowsFailed = state.RowsFailed + failed,
            };
            free.Add(chunk, CancellationToken.None);
            progress?.Invoke(new BatchProgress(chunk.EndPosition, source.Length, state.RowsProcessed, state.RowsFailed, rowsThisRun,
                _time.GetElapsedTime(started)));
            if (_time.GetElapsedTime(lastCheckpoint) >= options.CheckpointInterval)
            {
                Checkpoint(completed: false);
            }
        }

        // Apart from Account: an interrupted run accounts for its last batch and checkpoints without waiting here.
        void Pace()
        {
            if (options.RowsPerSecondLimit is { } rate)
            {
                TimeSpan ahead = TimeSpan.FromSeconds(rowsThisRun / rate) - _time.GetElapsedTime(runStarted);
                if (ahead > TimeSpan.Zero)
                {
                    Task.Delay(ahead, _time, cancellationToken).GetAwaiter().GetResult();
                }
            }
        }

        try
        {
            try
            {
                while (filled.TryTake(out RecordChunk chunk, cancellationToken))
                {
                    (TensorValue[][] outputs, widths) = Infer(chunk, writer, widths, cancellationToken);
                    FinishWriting();
                    Pace();
                    int[]? rowWidths = widths;
                    writing = chunk;
                    if (outputs.Length > 0)
                    {
                        background.Start(() =>
                        {
                            for (int run = 0; run < outputs.Length; run++)
                            {
                                int start = run * chunk.BatchSize;
                                int rows = Math.Min(chunk.BatchSize, chunk.Good - start);
                                writer.WriteRows(chunk.GoodRows.AsSpan(start, rows), outputs[run], rowWidths!);
                            }
                        });
                    }
                }

                FinishWriting();
            }
            catch (OperationCanceledException)
            {
                // Interrupted (Ctrl+C, SIGTERM): everything up to the last whole batch is written; record it.
                FinishWriting();
                Checkpoint(completed: false);
                throw;
            }
            finally
            {
                stop.Cancel();
                reader.Join();
                // Failing on another batch: never leave a write running into the writer about to be disposed.
                if (writing is not null)
                {
                    try
                    {
                        background.Wait();
                    }
                    catch (Exception)
                    {
                        // The failure already on its way out is the one to report.
                    }
                }
            }

            if (readerFailure is not null)
            {
                throw readerFailure is BatchException ? readerFailure
                    : new BatchException(BatchErrorKind.Input, $"cannot read '{options.InputPath}': {readerFailure.Message}", readerFailure);
            }

            Checkpoint(completed: true);
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw new BatchException(BatchErrorKind.Output,
                $"writing the output failed: {e.Message}. The checkpoint '{checkpointPath}' still marks the last complete batch; free space and run again with --resume.", e);
        }

        return Result(state, rowsThisRun, _time.GetElapsedTime(started), resumed?.NextRow);
    }

    private int RunsPerChunk(InputLayout layout)
    {
        if (options.RowsPerSecondLimit is not null)
        {
            return 1; // paced a batch at a time
        }

        long rowBytes = Math.Max(1, layout.Bindings.Sum(b => (long)b.Width * (b.Type == TensorElementType.String ? IntPtr.Size : 8)));
        long rows = Math.Min(options.ChunkRows, MaxChunkTensorBytes / rowBytes);
        return (int)Math.Max(1, rows / options.BatchSize);
    }

    private BatchResult Result(BatchCheckpoint state, long rowsThisRun, TimeSpan elapsed, long? resumedAt) => new()
    {
        RowsProcessed = state.RowsProcessed,
        RowsWritten = state.RowsWritten,
        RowsFailed = state.RowsFailed,
        RowsThisRun = rowsThisRun,
        Elapsed = elapsed,
        ResumedAtRow = resumedAt,
        OutputPath = options.OutputPath,
        ErrorsPath = options.ResolvedErrorsPath,
        CheckpointPath = options.ResolvedCheckpointPath,
    };

    private void Read(RecordSource source, RowParser parser, long nextRow, HandOffQueue<RecordChunk> free,
        HandOffQueue<RecordChunk> filled, CancellationToken cancellationToken)
    {
        ShardSpec shard = options.Shard;
        // .npy rows that are the model input's rows byte for byte are read straight into the chunk's tensor.
        NpySource? direct = source is NpySource npy && parser is NpyRowParser { Direct: true } && shard.Count == 1 ? npy : null;
        while (true)
        {
            RecordChunk chunk = free.Take(cancellationToken);
            chunk.Clear();
            if (direct is not null)
            {
                int rows = direct.ReadRows(chunk.Inputs[0].Data, out bool truncated);
                for (int i = 0; i < rows; i++)
                {
                    chunk.Add(default, nextRow++, 0, null);
                }

                if (truncated)
                {
                    chunk.Add(default, nextRow++, 0, Error(RecordStatus.Truncated));
                }

                chunk.Last = direct.Position >= direct.End;
            }
            else
            {
                while (chunk.Count < chunk.Capacity)
                {
                    RecordStatus status = source.Next(out ReadOnlySpan<byte> record, out long line);
                    if (status == RecordStatus.End)
                    {
                        chunk.Last = true;
                        break;
                    }

                    long row = nextRow++;
                    if (shard.Owns(row))
                    {
                        string? error = Error(status);
                        chunk.Add(error is null ? record : default, row, line, error);
                    }
                }
            }

            chunk.EndPosition = source.Position;
            chunk.NextRow = nextRow;
            chunk.NextLine = source.Line;
            if (direct is null)
            {
                parser.Parse(chunk, options.ParseThreads);
            }

            chunk.Compact();
            filled.Add(chunk, cancellationToken);
            if (chunk.Last)
            {
                return;
            }
        }
    }

    private string? Error(RecordStatus status) => status switch
    {
        RecordStatus.TooLong => $"the row is longer than {options.MaxRecordBytes} bytes",
        RecordStatus.UnterminatedQuote => "a quoted field is still open at the end of the file",
        RecordStatus.Truncated => "the file ends inside this row (the .npy header promises more rows)",
        _ => null,
    };

    /// <summary>
    /// Runs the chunk's good rows, a batch at a time, and checks the outputs (writing the header before the first
    /// rows); each run's outputs, in row order, or none when the chunk has no good row.
    /// </summary>
    private (TensorValue[][] Outputs, int[]? Widths) Infer(RecordChunk chunk, OutputWriter writer, int[]? widths, CancellationToken cancellationToken)
    {
        int runs = (chunk.Good + chunk.BatchSize - 1) / chunk.BatchSize;
        var outputs = new TensorValue[runs][];
        for (int run = 0; run < runs; run++)
        {
            int start = run * chunk.BatchSize;
            int rows = Math.Min(chunk.BatchSize, chunk.Good - start);
            (outputs[run], widths) = InferRun(chunk, start, rows, chunk.OutputMemory[run], writer, widths, cancellationToken);
        }

        return (outputs, widths);
    }

    private (TensorValue[] Outputs, int[] Widths) InferRun(RecordChunk chunk, int start, int rows, OutputMemory memory, OutputWriter writer,
        int[]? widths, CancellationToken cancellationToken)
    {
        var inputs = new NamedTensor[chunk.Inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = chunk.Inputs[i].ToTensor(start, rows);
        }

        TensorValue[] outputs;
        try
        {
            outputs = session.Run(inputs, memory, cancellationToken);
        }
        catch (BatchException e) when (e.Kind == BatchErrorKind.Model)
        {
            throw new BatchException(BatchErrorKind.Model,
                $"the model failed on the batch of rows {chunk.GoodRows[start]} to {chunk.GoodRows[start + rows - 1]}: {e.Message}", e);
        }

        var batchWidths = new int[outputs.Length];
        for (int o = 0; o < outputs.Length; o++)
        {
            if (outputs[o].Shape.Length == 0 || outputs[o].Shape[0] != rows)
            {
                throw new BatchException(BatchErrorKind.Model,
                    $"output '{session.Outputs[o].Name}' has shape [{string.Join(",", outputs[o].Shape)}] for {rows} rows: not one result per row.");
            }

            batchWidths[o] = (int)(outputs[o].ElementCount / rows);
        }

        if (widths is null)
        {
            widths = batchWidths;
            if (writer.Header(widths) is { } header)
            {
                writer.WriteHeader(header);
            }
        }
        else if (!widths.AsSpan().SequenceEqual(batchWidths))
        {
            throw new BatchException(BatchErrorKind.Model,
                $"the model's outputs changed size between batches ({string.Join(",", widths)} values per row, then {string.Join(",", batchWidths)}).");
        }

        return (outputs, widths);
    }

    // Read by path a second time: the file may have gone or changed since it was opened (a server job's input removed).
    private static InputFingerprint Fingerprint(string path)
    {
        try
        {
            return InputFingerprint.Of(path);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new BatchException(BatchErrorKind.Input, $"cannot read input '{path}': {e.Message}", e);
        }
    }

    private RecordSource OpenInput(InputFormat format)
    {
        string path = options.InputPath;
        if (Directory.Exists(path))
        {
            throw new BatchException(BatchErrorKind.Input, $"input '{path}' is a directory, not a file.");
        }

        if (!File.Exists(path))
        {
            throw new BatchException(BatchErrorKind.Input, $"input '{path}' does not exist.");
        }

        Stream stream;
        try
        {
            // Text sources keep their own buffer; .npy rows are read one at a time, so the stream buffers (1 MiB). A
            // sealed upload is read a whole chunk at a time and keeps the decrypted chunk, which is its buffer.
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read,
                format == InputFormat.Npy && options.InputCipher is null ? 1 << 20 : 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new BatchException(BatchErrorKind.Input, $"cannot read input '{path}': {e.Message}", e);
        }

        try
        {
            if (options.InputCipher is { } cipher)
            {
                stream = cipher.Open(stream, path);
            }

            return format == InputFormat.Npy ? NpySource.Open(stream, path) : new TextRecordSource(stream, format == InputFormat.Csv, options.MaxRecordBytes);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private (IReadOnlyList<string> Columns, long DataStart, long DataLine) ReadColumns(RecordSource source, InputFormat format, char delimiter)
    {
        if (source is NpySource npy)
        {
            return (Enumerable.Range(0, npy.Columns).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(), source.Position, 0);
        }

        long start = source.Position;
        RecordStatus status = source.Next(out ReadOnlySpan<byte> first, out long line);
        if (status == RecordStatus.End)
        {
            if (format == InputFormat.Csv)
            {
                throw new BatchException(BatchErrorKind.Input, $"input '{options.InputPath}' is empty: CSV input needs a header line.");
            }

            // An empty JSON lines file: nothing to read, and columns named after the inputs fit any model.
            return (session.Inputs.Select(i => i.Name).ToArray(), start, 1);
        }

        if (status != RecordStatus.Record)
        {
            throw new BatchException(BatchErrorKind.Input, $"input '{options.InputPath}': the first line is unreadable ({status}).");
        }

        if (format == InputFormat.Csv)
        {
            List<string>? header = CsvRowParser.SplitFields(first, delimiter, out string? error);
            return header is null
                ? throw new BatchException(BatchErrorKind.Input, $"input '{options.InputPath}': the header line is not valid CSV: {error}.")
                : (header.Select(h => h.Trim()).ToArray(), source.Position, source.Line);
        }

        IReadOnlyList<string> columns = JsonColumns(first, line);
        return (columns, start, line);
    }

    private string[] JsonColumns(ReadOnlySpan<byte> first, long line)
    {
        try
        {
            var reader = new System.Text.Json.Utf8JsonReader(first);
            reader.Read();
            var names = new List<string>();
            if (reader.TokenType == System.Text.Json.JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == System.Text.Json.JsonTokenType.PropertyName)
                {
                    names.Add(reader.GetString()!);
                    reader.Read();
                    reader.Skip();
                }

                return [.. names];
            }

            if (reader.TokenType == System.Text.Json.JsonTokenType.StartArray)
            {
                int count = 0;
                while (reader.Read() && reader.TokenType != System.Text.Json.JsonTokenType.EndArray)
                {
                    reader.Skip();
                    count++;
                }

                return Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            }
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new BatchException(BatchErrorKind.Input,
                $"input '{options.InputPath}' line {line} is not valid JSON ({e.Message}); JSON lines input has one object or array per line, and its first line names the columns.", e);
        }

        throw new BatchException(BatchErrorKind.Input,
            $"input '{options.InputPath}' line {line} is not a JSON object or array; JSON lines input has one per line.");
    }

    private (FileStream Output, FileStream Errors) OpenOutputs(BatchCheckpoint? resumed, string checkpointPath)
    {
        string output = options.OutputPath;
        string errors = options.ResolvedErrorsPath;
        try
        {
            if (resumed is not null)
            {
                FileStream reopened = Reopen(output, resumed.OutputLength, "output");
                try
                {
                    return (reopened, Reopen(errors, resumed.ErrorsLength, "error file"));
                }
                catch
                {
                    reopened.Dispose();
                    throw;
                }
            }

            if (!options.Overwrite)
            {
                string[] existing = new[] { output, errors }.Where(File.Exists).ToArray();
                if (existing.Length > 0)
                {
                    throw new BatchException(BatchErrorKind.Output,
                        $"'{existing[0]}' exists; pass --overwrite to replace it" +
                        (options.Resume ? $" (there is no checkpoint '{checkpointPath}' to resume from)." : ", or --resume to continue the job that wrote it."));
                }
            }

            foreach (string path in new[] { output, errors, checkpointPath })
            {
                if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory)
                {
                    Directory.CreateDirectory(directory);
                }
            }

            File.Delete(checkpointPath);

            return (new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1),
                new FileStream(errors, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BatchException(BatchErrorKind.Output, $"cannot create the output: {e.Message}", e);
        }
    }

    private static FileStream Reopen(string path, long length, string what)
    {
        if (!File.Exists(path))
        {
            throw new BatchException(BatchErrorKind.Checkpoint, $"cannot resume: the {what} '{path}' the checkpoint refers to is gone; start over with --overwrite.");
        }

        var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read, bufferSize: 1);
        long actual = file.Length;
        if (actual < length)
        {
            file.Dispose();
            throw new BatchException(BatchErrorKind.Checkpoint,
                $"cannot resume: the {what} '{path}' is shorter ({actual} bytes) than the checkpoint recorded ({length}); it was changed since. Start over with --overwrite.");
        }

        // Rows written after the checkpoint are dropped here and written again from the input, exactly once.
        file.SetLength(length);
        file.Position = length;
        return file;
    }

    private static int[]? StaticWidths(IReadOnlyList<TensorInfo> outputs)
    {
        var widths = new int[outputs.Count];
        for (int o = 0; o < outputs.Count; o++)
        {
            long[] shape = outputs[o].Shape;
            if (shape.Length == 0 || shape.Skip(1).Any(d => d < 0))
            {
                return null;
            }

            widths[o] = (int)shape.Skip(1).Aggregate(1L, (a, d) => a * d);
        }

        return widths;
    }
}
