using System.Globalization;

namespace Quiver.Core.Batch;

/// <summary>
/// One shard of a job: rows whose 0-based index i has i mod <see cref="Count"/> = <see cref="Index"/>. The index is
/// 0-based like Kubernetes' JOB_COMPLETION_INDEX, so shard K of an Indexed Job with N completions is "K/N".
/// </summary>
public readonly record struct ShardSpec(int Index, int Count)
{
    /// <summary>The whole input: "0/1".</summary>
    public static ShardSpec All { get; } = new(0, 1);

    /// <summary>Whether the row with this 0-based index belongs to the shard.</summary>
    public bool Owns(long row) => Count == 1 || row % Count == Index;

    /// <summary>Parses "K/N" with 0 ≤ K &lt; N; throws <see cref="BatchException"/> naming the problem otherwise.</summary>
    public static ShardSpec Parse(string text)
    {
        int slash = text.IndexOf('/');
        if (slash < 0
            || !int.TryParse(text.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out int index)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int count))
        {
            throw new BatchException(BatchErrorKind.Usage, $"--shard '{text}' is not K/N (e.g. 0/4: the first of four shards).");
        }

        if (count < 1)
        {
            throw new BatchException(BatchErrorKind.Usage, $"--shard '{text}': the shard count N must be at least 1.");
        }

        if (index >= count)
        {
            throw new BatchException(BatchErrorKind.Usage,
                $"--shard '{text}': the shard index K counts from 0 and must be below N, i.e. 0 to {count - 1}.");
        }

        return new ShardSpec(index, count);
    }

    public override string ToString() => $"{Index}/{Count}";
}
