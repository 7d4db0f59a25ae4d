namespace Quiver.Core.Security;

/// <summary>
/// One thing worth auditing, before it is chained into the log: who (<paramref name="Actor"/>, its tenant), did what
/// (<paramref name="Action"/>, e.g. <c>models.promote</c>, <c>auth.denied</c>), to which resource, with which outcome
/// (<c>success</c>, <c>failure</c>, <c>denied</c>), from where (client address), and free-form details
/// (never secrets or sensitive inputs in clear).
/// </summary>
public sealed record AuditEvent(string Actor, string Action, string Resource, string Outcome)
{
    public string? Tenant { get; init; }

    public string? Source { get; init; }

    public string? Details { get; init; }
}

/// <summary>Where audit events go: the hash-chained log in the registry database, or a test's list.</summary>
public interface IAuditSink
{
    /// <summary>Appends the event; it must not throw for a caller's request to fail (log and carry on).</summary>
    ValueTask RecordAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default);
}
