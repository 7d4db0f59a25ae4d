namespace Quiver.Core.Security.Audit;

/// <summary>What is wrong with the first bad entry.</summary>
public enum AuditProblem
{
    /// <summary>An entry's content no longer matches its hash, or its previous-hash field was changed.</summary>
    Edited,

    /// <summary>Sequence numbers have a gap: entries were deleted (or an anchored entry is gone).</summary>
    Removed,

    /// <summary>An entry's previous hash is another entry's hash: entries were moved or swapped.</summary>
    Reordered,

    /// <summary>An anchor's MAC does not verify under the key, was made by another key, or no longer matches the chain.</summary>
    AnchorMismatch,

    /// <summary>An anchor that must exist (every <c>AnchorInterval</c> entries) is gone.</summary>
    AnchorMissing,
}

/// <summary>The result of checking the whole chain and its anchors.</summary>
public sealed record AuditVerification
{
    /// <summary>True when every entry and anchor checks out.</summary>
    public required bool Valid { get; init; }

    /// <summary>How many entries were read.</summary>
    public required long Entries { get; init; }

    /// <summary>How many anchors were read.</summary>
    public required int Anchors { get; init; }

    /// <summary>The sequence of the chain's last entry (0 when empty).</summary>
    public required long HeadSequence { get; init; }

    /// <summary>The sequence of the newest anchored entry (0 when none): entries after it are protected by hashes alone.</summary>
    public required long AnchoredThrough { get; init; }

    /// <summary>The sequence of the first bad entry, when not valid.</summary>
    public long? FirstBadSequence { get; init; }

    /// <summary>What is wrong with it, when not valid.</summary>
    public AuditProblem? Problem { get; init; }

    /// <summary>One sentence for an operator: what was checked, or what is wrong where.</summary>
    public required string Message { get; init; }
}
