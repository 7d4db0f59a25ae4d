using System.Data.Common;
using Quiver.Core.Security.Audit;

namespace Quiver.Core.Registry;

// The audit chain's storage: appends take the registry's write lock, so replicas on one database form one chain.
public abstract partial class SqlModelRegistry : IAuditStore
{
    private const string AuditColumns =
        "sequence, recorded_at, actor, tenant, action, resource, outcome, source, details, previous_hash, hash";

    private const string AnchorColumns = "sequence, head_hash, previous_mac, created_at, key_id, mac";

    /// <inheritdoc />
    public Task<AuditAppend> AppendAuditAsync(Func<AuditHead, AuditAppend> build, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(build);
        return WriteAsync(async session =>
        {
            // The audit log is not desired state: replicas need not wake for it.
            session.Unchanged = true;
            AuditEntry? last = (await session.QueryAsync(
                $"SELECT {AuditColumns} FROM audit_log ORDER BY sequence DESC LIMIT 1", ReadAuditEntry)).FirstOrDefault();
            AuditAnchor? lastAnchor = (await session.QueryAsync(
                $"SELECT {AnchorColumns} FROM audit_anchors ORDER BY sequence DESC LIMIT 1", ReadAuditAnchor)).FirstOrDefault();
            AuditAppend append = build(new AuditHead(last, lastAnchor));
            if (append.Entry is { } e)
            {
                await session.ExecuteAsync(
                    $"INSERT INTO audit_log ({AuditColumns}) VALUES (@sequence, @time, @actor, @tenant, @action, @resource, @outcome, @source, @details, @previous, @hash)",
                    ("sequence", e.Sequence), ("time", e.Time), ("actor", e.Actor), ("tenant", e.Tenant), ("action", e.Action),
                    ("resource", e.Resource), ("outcome", e.Outcome), ("source", e.Source), ("details", e.Details),
                    ("previous", e.PreviousHash), ("hash", e.Hash));
            }

            if (append.Anchor is { } a)
            {
                await session.ExecuteAsync(
                    $"INSERT INTO audit_anchors ({AnchorColumns}) VALUES (@sequence, @head, @previous, @created, @keyId, @mac)",
                    ("sequence", a.Sequence), ("head", a.HeadHash), ("previous", a.PreviousMac), ("created", a.CreatedAt),
                    ("keyId", a.KeyId), ("mac", a.Mac));
            }

            return append;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(long afterSequence, DateTimeOffset? since, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return ReadAsync<IReadOnlyList<AuditEntry>>(async session => since is { } from
            ? await session.QueryAsync(
                $"SELECT {AuditColumns} FROM audit_log WHERE sequence > @after AND recorded_at >= @since ORDER BY sequence LIMIT @limit",
                ReadAuditEntry, ("after", afterSequence), ("since", AuditHashing.Truncate(from)), ("limit", limit))
            : await session.QueryAsync(
                $"SELECT {AuditColumns} FROM audit_log WHERE sequence > @after ORDER BY sequence LIMIT @limit",
                ReadAuditEntry, ("after", afterSequence), ("limit", limit)), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AuditEntry>> ReadRecentAuditAsync(int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return ReadAsync<IReadOnlyList<AuditEntry>>(async session => await session.QueryAsync(
            $"SELECT {AuditColumns} FROM audit_log ORDER BY sequence DESC LIMIT @limit", ReadAuditEntry, ("limit", limit)), cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<AuditAnchor>> ReadAuditAnchorsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<AuditAnchor>>(async session => await session.QueryAsync(
            $"SELECT {AnchorColumns} FROM audit_anchors ORDER BY sequence", ReadAuditAnchor), cancellationToken);

    private static AuditEntry ReadAuditEntry(DbDataReader r) => new()
    {
        Sequence = r.GetInt64(0),
        Time = r.GetFieldValue<DateTimeOffset>(1),
        Actor = r.GetString(2),
        Tenant = NullableString(r, 3),
        Action = r.GetString(4),
        Resource = r.GetString(5),
        Outcome = r.GetString(6),
        Source = NullableString(r, 7),
        Details = NullableString(r, 8),
        PreviousHash = r.GetString(9),
        Hash = r.GetString(10),
    };

    private static AuditAnchor ReadAuditAnchor(DbDataReader r) => new()
    {
        Sequence = r.GetInt64(0),
        HeadHash = r.GetString(1),
        PreviousMac = r.GetString(2),
        CreatedAt = r.GetFieldValue<DateTimeOffset>(3),
        KeyId = r.GetString(4),
        Mac = r.GetString(5),
    };
}
