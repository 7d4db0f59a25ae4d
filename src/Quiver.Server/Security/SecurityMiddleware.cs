using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Quiver.Core.Registry;
using Quiver.Core.Security;
using Quiver.Server.Grpc;
using Quiver.Server.Rest;

namespace Quiver.Server.Security;

/// <summary>
/// Authenticates and authorizes every request on every port (REST, gRPC, metrics) by <see cref="PolicyTable"/>:
/// 401 without good credentials, 403 without the role, 404 for another tenant's model (as for one that does not
/// exist). Runs after routing, so it knows the endpoint. With authentication off every request is
/// <see cref="Principal.Anonymous"/>, as before authentication existed.
/// </summary>
internal sealed partial class SecurityMiddleware(RequestDelegate next, SecuritySettings settings, ILogger<SecurityMiddleware> logger)
{
    /// <summary>The challenge sent with every 401.</summary>
    public const string Challenge = "Bearer realm=\"quiver\"";

    // Who reaches an open route (health with --open-health, unknown paths) with credentials not looked at: no roles.
    private static readonly Principal Unauthenticated = new("unauthenticated", null, new HashSet<Role>(), "none");

    public async Task InvokeAsync(HttpContext context)
    {
        if (settings.Authenticator is not { } authenticator)
        {
            context.Features.Set(Principal.Anonymous);
            await next(context);
            return;
        }

        Access access = PolicyTable.For(context, out string resource);
        if (access.Required(settings.OpenHealth) is not { } role)
        {
            context.Features.Set(Unauthenticated);
            await next(context);
            return;
        }

        Principal? principal;
        try
        {
            principal = await authenticator.AuthenticateAsync(context);
        }
        catch (AuthenticationFailedException e)
        {
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, GrpcStatusCode.Unauthenticated, e.Message,
                new AuditEvent("unauthenticated", "auth.failed", resource, "failure"));
            return;
        }

        if (principal is null)
        {
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, GrpcStatusCode.Unauthenticated,
                $"authentication required: send 'Authorization: Bearer <API key>' or '{RequestAuthenticator.ApiKeyHeader}: <API key>' " +
                "(create keys with 'quiver keys create').",
                new AuditEvent("unauthenticated", "auth.failed", resource, "failure"));
            return;
        }

        if (!principal.Has(role))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, GrpcStatusCode.PermissionDenied,
                $"'{principal.Name}' may not call {resource}: it needs the {RoleNames.Of(role)} role and has {Describe(principal.Roles)}.",
                new AuditEvent(principal.Name, "auth.denied", resource, "denied") { Tenant = principal.Tenant });
            return;
        }

        var visibility = new ModelVisibility(principal, settings.Registry, settings.Endpoints, settings.NotFoundMessages);
        if (context.GetRouteValue("model") is string model && context.GetEndpoint()?.Metadata.GetMetadata<TenantCheckedByEndpoint>() is null
            && !await visibility.CanSeeAsync(model, context.RequestAborted))
        {
            await RefuseAsync(context, StatusCodes.Status404NotFound, GrpcStatusCode.NotFound, visibility.NotFoundMessage(model, resource),
                SecurityAudit.HiddenModel(principal, resource, model));
            return;
        }

        context.Features.Set(principal);
        context.Features.Set(visibility);
        await next(context);
    }

    private async Task RefuseAsync(HttpContext context, int status, GrpcStatusCode grpcStatus, string message, AuditEvent audit)
    {
        Log.Refused(logger, status, audit.Resource, audit.Actor, message);
        settings.Metrics.RecordAuthFailure(status switch
        {
            StatusCodes.Status401Unauthorized => "unauthenticated",
            StatusCodes.Status403Forbidden => "forbidden",
            _ => "hidden_model",
        });
        await SecurityAudit.RecordAsync(context, audit with { Details = audit.Details ?? message });

        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = Challenge;
        }

        if (context.Request.Path.StartsWithSegments(GrpcEndpoints.ServicePath.TrimEnd('/')))
        {
            // gRPC answers in trailers over HTTP 200, whatever went wrong.
            context.Response.StatusCode = StatusCodes.Status200OK;
            GrpcCall.Finish(context, grpcStatus, message);
            return;
        }

        await V2Endpoints.WriteErrorAsync(context, status, message);
    }

    private static string Describe(IReadOnlySet<Role> roles) =>
        roles.Count == 0 ? "none" : string.Join(", ", roles.Order().Select(RoleNames.Of));

    private static partial class Log
    {
        [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Refused with {Status}: {Resource} by {Actor}: {Reason}")]
        public static partial void Refused(ILogger logger, int status, string resource, string actor, string reason);
    }
}

/// <summary>
/// What <see cref="SecurityMiddleware"/> works with: the authenticator (null: authentication off), the registry for
/// model owners, the endpoint table for the models an endpoint sends to, and the not-found messages another tenant's
/// model is answered with.
/// </summary>
internal sealed record SecuritySettings(RequestAuthenticator? Authenticator, IModelRegistry Registry, Core.Routing.EndpointTable Endpoints,
    bool OpenHealth, NotFoundMessages NotFoundMessages, Core.Monitoring.InferenceMetrics Metrics);
