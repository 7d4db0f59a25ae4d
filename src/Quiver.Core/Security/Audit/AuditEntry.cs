namespace Quiver.Core.Security.Audit;

/// <summary>
/// One link of the audit chain as stored: the event's fields, when it was recorded, its place in the chain
/// (<see cref="Sequence"/>, from 1, no gaps) and the hashes that tie it to the entry before it.
/// </summary>
public sealed record AuditEntry
{
    /// <summary>Position in the chain: 1 for the first entry, one more for each after it.</summary>
    public required long Sequence { get; init; }

    /// <summary>When the entry was appended, UTC, to the microsecond (what both databases keep).</summary>
    public required DateTimeOffset Time { get; init; }

    public required string Actor { get; init; }

    public string? Tenant { get; init; }

    public required string Action { get; init; }

    public required string Resource { get; init; }

    public required string Outcome { get; init; }

    public string? Source { get; init; }

    public string? Details { get; init; }

    /// <summary>The <see cref="Hash"/> of the entry before this one; <see cref="AuditHashing.GenesisHash"/> for the first.</summary>
    public required string PreviousHash { get; init; }

    /// <summary>SHA-256 (hex) over the canonical encoding of every field above, see <see cref="AuditHashing.HashOf"/>.</summary>
    public required string Hash { get; init; }
}

/// <summary>
/// An HMAC-SHA256 under the audit key over the chain head at <see cref="Sequence"/>: someone who can write the database
/// but holds no key can recompute every hash, yet not these. Anchors chain too (<see cref="PreviousMac"/>), so a removed
/// anchor shows.
/// </summary>
public sealed record AuditAnchor
{
    /// <summary>The sequence of the entry this anchor covers (the head when it was made).</summary>
    public required long Sequence { get; init; }

    /// <summary>That entry's hash.</summary>
    public required string HeadHash { get; init; }

    /// <summary>The <see cref="Mac"/> of the anchor before this one; empty for the first.</summary>
    public required string PreviousMac { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Which audit key made it (<see cref="AuditKey.KeyId"/>), so a wrong key is named, not guessed at.</summary>
    public required string KeyId { get; init; }

    /// <summary>HMAC-SHA256 (hex) over the canonical encoding of the fields above.</summary>
    public required string Mac { get; init; }
}
