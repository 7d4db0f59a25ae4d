using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>Records authentication failures and authorization denials in the audit sink, when one is registered.</summary>
internal static class SecurityAudit
{
    /// <summary>Records the event with the client's address; does nothing while no <see cref="IAuditSink"/> is registered.</summary>
    public static ValueTask RecordAsync(HttpContext context, AuditEvent auditEvent) =>
        context.RequestServices.GetService<IAuditSink>() is { } sink
            ? sink.RecordAsync(auditEvent with { Source = context.Connection.RemoteIpAddress?.ToString() }, context.RequestAborted)
            : ValueTask.CompletedTask;

    /// <summary>The event for a principal refused another tenant's model (answered as a missing one).</summary>
    public static AuditEvent HiddenModel(Principal principal, string resource, string model) =>
        new(principal.Name, "auth.denied", resource, "denied") { Tenant = principal.Tenant, Details = $"model '{model}' belongs to another tenant" };
}
