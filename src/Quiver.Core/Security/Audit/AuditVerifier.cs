using System.Globalization;

namespace Quiver.Core.Security.Audit;

/// <summary>
/// Recomputes the chain and its anchors and names the first bad entry. Reads the log twice (both in pages): first to
/// learn which hash sits at which sequence, so a moved entry can be told from an edited one, then to check each link.
/// Memory is one hash per entry (about 100 bytes), a few hundred MB for millions of entries.
/// </summary>
public sealed class AuditVerifier(IAuditStore store, AuditKey key, int anchorInterval)
{
    private const int PageSize = 1000;

    public async Task<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default)
    {
        var sequenceOfHash = new Dictionary<string, long>(StringComparer.Ordinal);
        var hashAt = new Dictionary<long, string>();
        await foreach (AuditEntry entry in ReadAllAsync(cancellationToken))
        {
            sequenceOfHash.TryAdd(entry.Hash, entry.Sequence);
            hashAt[entry.Sequence] = entry.Hash;
        }

        long entries = 0;
        long head = 0;
        Finding? chain = null;
        string previousHash = AuditHashing.GenesisHash;
        await foreach (AuditEntry entry in ReadAllAsync(cancellationToken))
        {
            entries++;
            chain ??= CheckLink(entry, head + 1, previousHash, sequenceOfHash);
            previousHash = entry.Hash;
            head = entry.Sequence;
        }

        IReadOnlyList<AuditAnchor> anchors = await store.ReadAuditAnchorsAsync(cancellationToken);
        Finding? anchor = CheckAnchors(anchors, hashAt, head);
        Finding? first = chain is null ? anchor : anchor is null || chain.Sequence <= anchor.Sequence ? chain : anchor;
        long anchoredThrough = anchors.Count == 0 ? 0 : anchors[^1].Sequence;
        if (first is null)
        {
            return new AuditVerification
            {
                Valid = true, Entries = entries, Anchors = anchors.Count, HeadSequence = head, AnchoredThrough = anchoredThrough,
                Message = $"audit log verified: {entries} entries, {anchors.Count} anchors" +
                    (anchors.Count == 0 ? "" : $" (through entry {anchoredThrough})") + "; no entry was edited, removed or reordered.",
            };
        }

        return new AuditVerification
        {
            Valid = false, Entries = entries, Anchors = anchors.Count, HeadSequence = head, AnchoredThrough = anchoredThrough,
            FirstBadSequence = first.Sequence, Problem = first.Problem,
            Message = $"audit log is NOT intact: first bad entry {first.Sequence} ({ProblemName(first.Problem)}): {first.Reason}",
        };
    }

    /// <summary>The lowercase name used in messages and JSON: edited, removed, reordered, anchor-mismatch, anchor-missing.</summary>
    public static string ProblemName(AuditProblem problem) => problem switch
    {
        AuditProblem.Edited => "edited",
        AuditProblem.Removed => "removed",
        AuditProblem.Reordered => "reordered",
        AuditProblem.AnchorMismatch => "anchor-mismatch",
        _ => "anchor-missing",
    };

    private static Finding? CheckLink(AuditEntry entry, long expected, string previousHash, Dictionary<string, long> sequenceOfHash)
    {
        if (entry.Sequence != expected)
        {
            string missing = entry.Sequence - 1 == expected ? N(expected) : $"{N(expected)} to {N(entry.Sequence - 1)}";
            return new Finding(expected, AuditProblem.Removed, $"entry {missing} is missing: the chain jumps from entry {N(expected - 1)} to {N(entry.Sequence)}.");
        }

        if (entry.PreviousHash != previousHash)
        {
            return sequenceOfHash.TryGetValue(entry.PreviousHash, out long follows) && follows != entry.Sequence - 1
                ? new Finding(entry.Sequence, AuditProblem.Reordered,
                    $"the entry stored at {N(entry.Sequence)} links to entry {N(follows)}, not to entry {N(entry.Sequence - 1)}: entries were moved or swapped.")
                : new Finding(entry.Sequence, AuditProblem.Edited,
                    $"its previous-hash field does not match entry {N(entry.Sequence - 1)}'s hash.");
        }

        return AuditHashing.HashOf(entry) == entry.Hash
            ? null
            : new Finding(entry.Sequence, AuditProblem.Edited, "its content no longer matches its hash (a field was changed).");
    }

    private Finding? CheckAnchors(IReadOnlyList<AuditAnchor> anchors, Dictionary<long, string> hashAt, long head)
    {
        Finding? first = null;
        void Keep(Finding finding)
        {
            if (first is null || finding.Sequence < first.Sequence)
            {
                first = finding;
            }
        }

        string previousMac = "";
        var anchored = new HashSet<long>();
        foreach (AuditAnchor anchor in anchors)
        {
            anchored.Add(anchor.Sequence);
            if (anchor.KeyId != key.KeyId)
            {
                Keep(new Finding(anchor.Sequence, AuditProblem.AnchorMismatch,
                    $"its anchor was made with audit key {anchor.KeyId}, but the key given is {key.KeyId}; verify with the server's audit key file."));
            }
            else if (AuditHashing.MacOf(anchor, key) != anchor.Mac)
            {
                Keep(new Finding(anchor.Sequence, AuditProblem.AnchorMismatch, "its anchor's HMAC does not verify under the audit key: the anchor was forged or edited."));
            }
            else if (anchor.PreviousMac != previousMac)
            {
                Keep(new Finding(anchor.Sequence, AuditProblem.AnchorMissing, "the anchor before it is missing: its anchor links to another one."));
            }
            else if (!hashAt.TryGetValue(anchor.Sequence, out string? hash))
            {
                Keep(new Finding(anchor.Sequence, AuditProblem.Removed, "it was anchored but is gone from the log."));
            }
            else if (hash != anchor.HeadHash)
            {
                Keep(new Finding(anchor.Sequence, AuditProblem.AnchorMismatch,
                    "its hash differs from the one its anchor recorded: the chain up to it was rewritten."));
            }

            previousMac = anchor.Mac;
        }

        // Anchors are written in the append's own transaction, so each multiple of the interval has one.
        for (long sequence = anchorInterval; sequence <= head; sequence += anchorInterval)
        {
            if (!anchored.Contains(sequence))
            {
                Keep(new Finding(sequence, AuditProblem.AnchorMissing,
                    $"every {anchorInterval} entries are anchored, but there is no anchor at this entry: anchors were deleted."));
                break;
            }
        }

        return first;
    }

    private async IAsyncEnumerable<AuditEntry> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long after = 0;
        while (true)
        {
            IReadOnlyList<AuditEntry> page = await store.ReadAuditAsync(after, null, PageSize, cancellationToken);
            foreach (AuditEntry entry in page)
            {
                yield return entry;
            }

            if (page.Count < PageSize)
            {
                yield break;
            }

            after = page[^1].Sequence;
        }
    }

    private static string N(long sequence) => sequence.ToString(CultureInfo.InvariantCulture);

    private sealed record Finding(long Sequence, AuditProblem Problem, string Reason);
}
