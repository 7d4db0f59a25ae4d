using Microsoft.Extensions.Logging;

namespace Quiver.Core.Security.Audit;

/// <summary>
/// The tamper-evident audit log: each event becomes an entry hash-chained to the one before it, appended in the
/// registry's write transaction (so replicas sharing a database still form one chain), and every
/// <see cref="AnchorInterval"/> entries the head is anchored with an HMAC under the audit key.
/// </summary>
public sealed partial class AuditLog : IAuditSink
{
    /// <summary>Entries between automatic anchors when none is configured.</summary>
    public const int DefaultAnchorInterval = 100;

    private readonly IAuditStore _store;
    private readonly AuditKey _key;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public AuditLog(IAuditStore store, AuditKey key, ILogger logger, int anchorInterval = DefaultAnchorInterval, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(anchorInterval, 1);
        _store = store;
        _key = key;
        _logger = logger;
        AnchorInterval = anchorInterval;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Entries between automatic anchors.</summary>
    public int AnchorInterval { get; }

    /// <summary>The database the chain lives in, for queries.</summary>
    public IAuditStore Store => _store;

    /// <summary>Appends the event and never throws: a database outage is logged (the caller's action already happened).</summary>
    public async ValueTask RecordAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        try
        {
            // The caller's token is not passed on: a client hanging up must not leave its action unrecorded.
            await AppendAsync(auditEvent, CancellationToken.None);
        }
        catch (Exception e)
        {
            Log.AppendFailed(_logger, auditEvent.Action, auditEvent.Resource, auditEvent.Actor, auditEvent.Outcome, e.Message);
        }
    }

    /// <summary>Appends the event and returns its entry; throws when the database cannot take it.</summary>
    public async Task<AuditEntry> AppendAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        DateTimeOffset now = AuditHashing.Truncate(_time.GetUtcNow());
        AuditAppend written = await _store.AppendAuditAsync(head =>
        {
            long sequence = (head.LastEntry?.Sequence ?? 0) + 1;
            var unhashed = new AuditEntry
            {
                Sequence = sequence,
                Time = now,
                Actor = auditEvent.Actor,
                Tenant = auditEvent.Tenant,
                Action = auditEvent.Action,
                Resource = auditEvent.Resource,
                Outcome = auditEvent.Outcome,
                Source = auditEvent.Source,
                Details = auditEvent.Details,
                PreviousHash = head.LastEntry?.Hash ?? AuditHashing.GenesisHash,
                Hash = "",
            };
            AuditEntry entry = unhashed with { Hash = AuditHashing.HashOf(unhashed) };
            return new AuditAppend(entry, sequence % AnchorInterval == 0 ? Anchor(entry, head.LastAnchor, now) : null);
        }, cancellationToken);
        return written.Entry!;
    }

    /// <summary>Anchors the current head now (e.g. before an export or at shutdown); null when the log is empty.</summary>
    public async Task<AuditAnchor?> AnchorAsync(CancellationToken cancellationToken = default)
    {
        DateTimeOffset now = AuditHashing.Truncate(_time.GetUtcNow());
        AuditAppend written = await _store.AppendAuditAsync(head =>
            head.LastEntry is null || head.LastAnchor?.Sequence == head.LastEntry.Sequence
                ? new AuditAppend(null, null)
                : new AuditAppend(null, Anchor(head.LastEntry, head.LastAnchor, now)), cancellationToken);
        return written.Anchor;
    }

    /// <summary>Recomputes the whole chain and every anchor.</summary>
    public Task<AuditVerification> VerifyAsync(CancellationToken cancellationToken = default) =>
        new AuditVerifier(_store, _key, AnchorInterval).VerifyAsync(cancellationToken);

    private AuditAnchor Anchor(AuditEntry head, AuditAnchor? previous, DateTimeOffset now)
    {
        var unsigned = new AuditAnchor
        {
            Sequence = head.Sequence, HeadHash = head.Hash, PreviousMac = previous?.Mac ?? "", CreatedAt = now, KeyId = _key.KeyId, Mac = "",
        };
        return unsigned with { Mac = AuditHashing.MacOf(unsigned, _key) };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 640, Level = LogLevel.Error,
            Message = "Audit log: could not record {Action} on {Resource} by {Actor} ({Outcome}): {Error}")]
        public static partial void AppendFailed(ILogger logger, string action, string resource, string actor, string outcome, string error);
    }
}
