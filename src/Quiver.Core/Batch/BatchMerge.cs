using System.Buffers.Text;
using System.Text;

namespace Quiver.Core.Batch;

/// <summary>What a merge did.</summary>
/// <param name="Rows">Rows written.</param>
/// <param name="Parts">Parts read.</param>
/// <param name="Warnings">What could not be checked, e.g. parts without a checkpoint.</param>
public sealed record MergeResult(long Rows, int Parts, IReadOnlyList<string> Warnings);

/// <summary>
/// Joins the outputs of <c>quiver batch run --shard K/N</c> into one file in input row order, by the row index each
/// output row starts with: a k-way merge reading one row per part at a time, so memory does not grow with the parts'
/// size. Where the parts' checkpoints sit beside them, they prove every shard of the same job finished.
/// </summary>
public static class BatchMerge
{
    public static MergeResult Merge(IReadOnlyList<string> parts, string output, bool overwrite, CancellationToken cancellationToken = default)
    {
        if (parts.Count == 0)
        {
            throw new BatchException(BatchErrorKind.Usage, "give the parts to merge.");
        }

        foreach (string part in parts)
        {
            if (!File.Exists(part))
            {
                throw new BatchException(BatchErrorKind.Input, $"part '{part}' does not exist.");
            }

            if (Path.GetFullPath(part) == Path.GetFullPath(output))
            {
                throw new BatchException(BatchErrorKind.Usage, $"the output '{output}' is also one of the parts.");
            }
        }

        if (parts.Select(Path.GetFullPath).Distinct().Count() != parts.Count)
        {
            throw new BatchException(BatchErrorKind.Usage, "a part is given more than once.");
        }

        OutputFormat format = BatchFormats.OutputFromPath(parts[0]);
        if (parts.Any(p => BatchFormats.OutputFromPath(p) != format))
        {
            throw new BatchException(BatchErrorKind.Input, "the parts are not all the same format (JSON lines or CSV).");
        }

        List<string> warnings = CheckShards(parts);
        if (File.Exists(output) && !overwrite)
        {
            throw new BatchException(BatchErrorKind.Output, $"'{output}' exists; pass --overwrite to replace it.");
        }

        var sources = new List<TextRecordSource>();
        try
        {
            foreach (string part in parts)
            {
                sources.Add(new TextRecordSource(File.OpenRead(part), quotes: format == OutputFormat.Csv, int.MaxValue / 2));
            }

            using var file = new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            if (format == OutputFormat.Csv)
            {
                MergeHeaders(parts, sources, file);
            }

            var queue = new PriorityQueue<int, long>();
            var last = new long[parts.Count];
            var current = new byte[parts.Count][];
            for (int p = 0; p < parts.Count; p++)
            {
                last[p] = -1;
                Enqueue(p);
            }

            long rows = 0;
            long previous = -1;
            while (queue.TryDequeue(out int part, out long row))
            {
                if (row == previous)
                {
                    throw new BatchException(BatchErrorKind.Input, $"row {row} appears in more than one part (again in '{parts[part]}'): the parts overlap.");
                }

                file.Write(current[part]);
                file.WriteByte((byte)'\n');
                rows++;
                previous = row;
                Enqueue(part);
                if ((rows & 0xFFFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }

            return new MergeResult(rows, parts.Count, warnings);

            void Enqueue(int p)
            {
                RecordStatus status = sources[p].Next(out ReadOnlySpan<byte> record, out long line);
                if (status == RecordStatus.End)
                {
                    return;
                }

                long row = RowOf(record, format) ?? throw new BatchException(BatchErrorKind.Input,
                    $"'{parts[p]}' line {line} does not start with a row index: it is not the output of 'quiver batch run'.");
                if (row <= last[p])
                {
                    throw new BatchException(BatchErrorKind.Input, $"'{parts[p]}' line {line}: row {row} comes after row {last[p]}; the part is not in input order.");
                }

                last[p] = row;
                current[p] = record.ToArray();
                queue.Enqueue(p, row);
            }
        }
        finally
        {
            foreach (TextRecordSource source in sources)
            {
                source.Dispose();
            }

        }
    }

    private static void MergeHeaders(IReadOnlyList<string> parts, List<TextRecordSource> sources, FileStream file)
    {
        byte[]? header = null;
        for (int p = 0; p < sources.Count; p++)
        {
            if (sources[p].Next(out ReadOnlySpan<byte> line, out _) != RecordStatus.Record)
            {
                continue;
            }

            if (header is null)
            {
                header = line.ToArray();
            }
            else if (!line.SequenceEqual(header))
            {
                throw new BatchException(BatchErrorKind.Input,
                    $"'{parts[p]}' has the header '{Encoding.UTF8.GetString(line)}', '{parts[0]}' has '{Encoding.UTF8.GetString(header)}': not parts of one job.");
            }
        }

        if (header is not null)
        {
            file.Write(header);
            file.WriteByte((byte)'\n');
        }
    }

    private static long? RowOf(ReadOnlySpan<byte> record, OutputFormat format)
    {
        if (format == OutputFormat.JsonLines)
        {
            if (!record.StartsWith("{\"row\":"u8))
            {
                return null;
            }

            record = record[7..];
        }

        return Utf8Parser.TryParse(record, out long row, out int consumed) && consumed > 0 && row >= 0 ? row : null;
    }

    // Every part's checkpoint, when they are all there, must be finished and from one job with distinct shards covering all N.
    private static List<string> CheckShards(IReadOnlyList<string> parts)
    {
        var warnings = new List<string>();
        var checkpoints = new List<(string Part, BatchCheckpoint Checkpoint)>();
        foreach (string part in parts)
        {
            string path = part + ".checkpoint.json";
            if (!File.Exists(path))
            {
                warnings.Add($"'{part}' has no checkpoint beside it ('{path}'), so whether its shard finished cannot be checked.");
                continue;
            }

            BatchCheckpoint checkpoint = BatchCheckpoint.Load(path);
            if (!checkpoint.Completed)
            {
                throw new BatchException(BatchErrorKind.Input,
                    $"'{part}' is unfinished: its checkpoint stops at row {checkpoint.NextRow}. Finish it with 'quiver batch run … --resume' first.");
            }

            checkpoints.Add((part, checkpoint));
        }

        if (checkpoints.Count == 0)
        {
            return warnings;
        }

        BatchCheckpoint first = checkpoints[0].Checkpoint;
        foreach (var (part, checkpoint) in checkpoints.Skip(1))
        {
            if (checkpoint.InputFingerprint != first.InputFingerprint || checkpoint.ModelSha256 != first.ModelSha256)
            {
                throw new BatchException(BatchErrorKind.Input,
                    $"'{part}' comes from a different job than '{checkpoints[0].Part}' (input '{checkpoint.Input}' with model '{checkpoint.Model}', not '{first.Input}' with '{first.Model}').");
            }
        }

        var shards = checkpoints.Select(c => (c.Part, Spec: ShardSpec.Parse(c.Checkpoint.Shard))).ToList();
        int count = shards[0].Spec.Count;
        if (shards.Any(s => s.Spec.Count != count))
        {
            throw new BatchException(BatchErrorKind.Input,
                $"the parts were split different ways: {string.Join(", ", shards.Select(s => $"'{s.Part}' is shard {s.Spec}"))}.");
        }

        if (checkpoints.Count == parts.Count)
        {
            int[] missing = Enumerable.Range(0, count).Except(shards.Select(s => s.Spec.Index)).ToArray();
            if (missing.Length > 0)
            {
                throw new BatchException(BatchErrorKind.Input,
                    $"shard{(missing.Length == 1 ? "" : "s")} {string.Join(", ", missing.Select(m => $"{m}/{count}"))} of the job {(missing.Length == 1 ? "is" : "are")} missing from the parts.");
            }
        }

        return warnings;
    }
}
