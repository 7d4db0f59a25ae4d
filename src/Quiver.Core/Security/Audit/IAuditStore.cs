namespace Quiver.Core.Security.Audit;

/// <summary>
/// Where the audit chain is kept: the registry database. Appends run inside the registry's write transaction, one
/// at a time across every replica sharing the database, so the chain stays one chain.
/// </summary>
public interface IAuditStore
{
    /// <summary>
    /// Under the write lock, hands <paramref name="build"/> the chain's head and newest anchor and stores what it returns
    /// (an entry, an anchor, or both) in the same transaction.
    /// </summary>
    Task<AuditAppend> AppendAuditAsync(Func<AuditHead, AuditAppend> build, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> entries after <paramref name="afterSequence"/> and at or after <paramref name="since"/>, ascending.</summary>
    Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(long afterSequence, DateTimeOffset? since, int limit, CancellationToken cancellationToken = default);

    /// <summary>The newest <paramref name="limit"/> entries, newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> ReadRecentAuditAsync(int limit, CancellationToken cancellationToken = default);

    /// <summary>Every anchor, ascending by the sequence it covers.</summary>
    Task<IReadOnlyList<AuditAnchor>> ReadAuditAnchorsAsync(CancellationToken cancellationToken = default);
}

/// <summary>The chain's newest entry and newest anchor, or null for none yet.</summary>
public sealed record AuditHead(AuditEntry? LastEntry, AuditAnchor? LastAnchor);

/// <summary>What one append writes: an entry, an anchor over the head, or both.</summary>
public sealed record AuditAppend(AuditEntry? Entry, AuditAnchor? Anchor);
