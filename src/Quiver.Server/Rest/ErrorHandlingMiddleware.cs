using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Quiver.Core.Registry;
using Quiver.Core.Storage;
using Quiver.Core.Tensors;

namespace Quiver.Server.Rest;

/// <summary>
/// Turns every failure that escapes an endpoint into the protocol's error JSON: decoder errors and
/// Kestrel's own bad-request errors keep their 4xx status; anything else is logged and becomes a 500.
/// </summary>
internal sealed partial class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        // The id logs and traces know this request by: the W3C trace id when tracing, Kestrel's request id otherwise.
        context.Response.Headers["X-Request-Id"] = System.Diagnostics.Activity.Current?.TraceId.ToHexString() ?? context.TraceIdentifier;
        try
        {
            await next(context);
        }
        catch (InferenceException e) when (!context.Response.HasStarted)
        {
            await V2Endpoints.WriteErrorAsync(context, ErrorStatus.For(e.Error.Kind), e.Message);
        }
        catch (RegistryException e) when (!context.Response.HasStarted)
        {
            await V2Endpoints.WriteErrorAsync(context, ErrorStatus.For(e.Kind), e.Message);
        }
        catch (ArtifactException e) when (!context.Response.HasStarted)
        {
            await V2Endpoints.WriteErrorAsync(context, ErrorStatus.For(e), e.Message);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            await V2Endpoints.WriteErrorAsync(context, e.StatusCode, e.Message);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            Log.UnhandledError(logger, context.Request.Method, context.Request.Path, e);
            await V2Endpoints.WriteErrorAsync(context, StatusCodes.Status500InternalServerError, $"internal error: {e.Message}");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 200, Level = LogLevel.Error, Message = "Unhandled error in {Method} {Path}")]
        public static partial void UnhandledError(ILogger logger, string method, PathString path, Exception exception);
    }
}
