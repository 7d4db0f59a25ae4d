using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Quiver.Core.Security;
using Quiver.Server.Rest;

namespace Quiver.Server.Audit;

/// <summary>
/// <c>.Audited("models.promote", "models/{model}")</c> marks a management endpoint; <see cref="AuditMiddleware"/> then
/// records one audit entry per call after the handler ran (or threw): who, from where, which resource, the outcome and,
/// on failure, the reason. One mechanism for every endpoint, so none records differently or forgets the failure case.
/// </summary>
internal static class AuditedEndpoints
{
    /// <summary>
    /// Audits the endpoint as <paramref name="action"/>; <paramref name="action"/> and <paramref name="resource"/> may name
    /// route values in braces, replaced by the request's values.
    /// </summary>
    public static TBuilder Audited<TBuilder>(this TBuilder endpoint, string action, string resource)
        where TBuilder : IEndpointConventionBuilder =>
        endpoint.WithMetadata(new AuditedAction(action, resource));

    /// <summary>
    /// Runs one management call that is not an endpoint of its own (a gRPC method) and records it like an audited
    /// endpoint: success, or failure with the exception's message.
    /// </summary>
    public static async Task<T> RunAsync<T>(HttpContext context, string action, string resource, Func<ValueTask<T>> call)
    {
        var audited = new AuditedAction(action, resource);
        var scope = new AuditScope();
        T result;
        try
        {
            result = await call();
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            await AuditMiddleware.RecordAsync(context, audited, scope, "failure", status: null, e.Message);
            throw;
        }

        await AuditMiddleware.RecordAsync(context, audited, scope, "success", status: null, reason: null);
        return result;
    }

    /// <summary>Who the request comes from, as the audit log names it: the authenticated principal, or anonymous.</summary>
    public static Principal CallerOf(HttpContext context) => context.Features.Get<Principal>() ?? Principal.Anonymous;
}

/// <summary>An endpoint's audit action and resource template.</summary>
internal sealed record AuditedAction(string Action, string Resource);

/// <summary>Records the calls of endpoints marked <see cref="AuditedEndpoints.Audited"/>; runs inside the error handling, after routing.</summary>
internal sealed class AuditMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<AuditedAction>() is not { } audited)
        {
            await next(context);
            return;
        }

        var scope = new AuditScope();
        context.Features.Set(scope);
        // Recorded before the response goes out, so a client that reads the audit log next finds its own action.
        bool recorded = false;
        context.Response.OnStarting(async () =>
        {
            if (!recorded)
            {
                recorded = true;
                int status = context.Response.StatusCode;
                await RecordAsync(context, audited, scope, status < 400 ? "success" : "failure", status, reason: null);
            }
        });
        try
        {
            await next(context);
        }
        catch (Exception e) when (!recorded && (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested))
        {
            recorded = true;
            await RecordAsync(context, audited, scope, "failure", ErrorStatus.Of(e), e.Message);
            throw;
        }
    }

    /// <summary>Records one audited call; <paramref name="status"/> is the HTTP status, null over gRPC.</summary>
    public static async Task RecordAsync(HttpContext context, AuditedAction audited, AuditScope scope, string outcome, int? status, string? reason)
    {
        if (context.RequestServices.GetService<IAuditSink>() is not { } sink)
        {
            return;
        }

        Principal caller = AuditedEndpoints.CallerOf(context);
        // Without authentication the actor header is only a claim: kept in the details, never as the actor.
        string? claimed = context.Request.Headers[AdminEndpoints.ActorHeader].ToString() is { Length: > 0 } header ? header : null;
        RouteValueDictionary values = context.Request.RouteValues;
        await sink.RecordAsync(new AuditEvent(caller.Name, Expand(audited.Action, values), scope.Resource ?? Expand(audited.Resource, values), outcome)
        {
            Tenant = caller.Tenant,
            Source = context.Connection.RemoteIpAddress?.ToString(),
            Details = scope.DetailsJson(("status", status), ("error", reason), ("claimed_actor", claimed)),
        });
    }

    private static string Expand(string template, RouteValueDictionary values)
    {
        var text = new StringBuilder(template);
        foreach ((string name, object? value) in values)
        {
            text.Replace("{" + name + "}", Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }
}
