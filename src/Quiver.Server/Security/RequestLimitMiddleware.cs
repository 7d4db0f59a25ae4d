using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Quiver.Core.Monitoring;
using Quiver.Core.Security;
using Quiver.Server.Grpc;
using Quiver.Server.Rest;

namespace Quiver.Server.Security;

/// <summary>
/// Holds every request to its caller's rate and concurrency limits (<see cref="RequestLimiter"/>). A refused REST call
/// gets 429 with Retry-After and <c>{"error": "..."}</c> naming the limit; a refused gRPC call gets RESOURCE_EXHAUSTED
/// with the same message. Must run after authentication, which puts the caller on the context; without it every
/// caller is <see cref="Principal.Anonymous"/>. Health probes and metrics scrapes are not limited.
/// </summary>
internal sealed partial class RequestLimitMiddleware(RequestDelegate next, RequestLimiter limiter, InferenceMetrics metrics,
    ILogger<RequestLimitMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (IsExempt(context.Request.Path))
        {
            await next(context);
            return;
        }

        Principal principal = context.Features.Get<Principal>() ?? Principal.Anonymous;
        LimitDecision decision = limiter.Acquire(principal);
        if (decision.Refusal is { } refusal)
        {
            metrics.RecordLimited(refusal.Reason);
            Log.Limited(logger, principal.Name, refusal.Reason, context.Request.Path);
            await RefuseAsync(context, refusal);
            return;
        }

        using IDisposable lease = decision.Lease!;
        await next(context);
    }

    private static Task RefuseAsync(HttpContext context, LimitRefusal refusal)
    {
        context.Response.Headers.RetryAfter = refusal.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            // gRPC answers with HTTP 200 and the status in trailers, like every other gRPC failure here.
            context.Response.StatusCode = StatusCodes.Status200OK;
            GrpcCall.Finish(context, GrpcStatusCode.ResourceExhausted, refusal.Message);
            return Task.CompletedTask;
        }

        return V2Endpoints.WriteErrorAsync(context, StatusCodes.Status429TooManyRequests, refusal.Message);
    }

    // Liveness and readiness probes and Prometheus scrapes must keep working for a caller at its limit.
    private static bool IsExempt(PathString path) =>
        path.StartsWithSegments("/v2/health", StringComparison.Ordinal)
        || path.StartsWithSegments("/metrics", StringComparison.Ordinal)
        || path.Equals(GrpcEndpoints.ServicePath + "ServerLive", StringComparison.Ordinal)
        || path.Equals(GrpcEndpoints.ServicePath + "ServerReady", StringComparison.Ordinal);

    private static partial class Log
    {
        [LoggerMessage(EventId = 660, Level = LogLevel.Debug, Message = "Request of {Principal} to {Path} refused: {Reason}")]
        public static partial void Limited(ILogger logger, string principal, string reason, PathString path);
    }
}
