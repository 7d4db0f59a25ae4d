using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Quiver.Core.Tensors;
using Quiver.Server.Audit;
using Quiver.Server.Grpc.Proto;

namespace Quiver.Server.Grpc;

/// <summary>
/// Serves <c>inference.GRPCInferenceService</c> on Kestrel's HTTP/2: framing, deadlines, compression and
/// status trailers here; what each RPC does in <see cref="GrpcInferenceService"/>.
/// </summary>
internal static partial class GrpcEndpoints
{
    public const string ServicePath = "/inference.GRPCInferenceService/";

    public static void MapGrpc(this IEndpointRouteBuilder routes, GrpcInferenceService service, int maxMessageBytes, ILogger logger)
    {
        routes.MapPost(ServicePath + "{method}", (HttpContext context, string method) =>
            HandleAsync(context, method, service, maxMessageBytes, logger));
    }

    private static async Task HandleAsync(HttpContext context, string method, GrpcInferenceService service, int maxMessageBytes, ILogger logger)
    {
        if (!context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) ?? true)
        {
            context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            await context.Response.WriteAsync("gRPC calls need content-type application/grpc over HTTP/2.");
            return;
        }

        // A stream may carry many messages; each is held to the message limit instead of the whole body.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = null;
        }

        GrpcCall? call = null;
        try
        {
            call = GrpcCall.Start(context);
            if (method == "ModelStreamInfer")
            {
                // A stream idles between messages, which the minimum body data rate would take for a slow client.
                if (context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
                {
                    rate.MinDataRate = null;
                }

                await new GrpcInferStream(call, service, maxMessageBytes).RunAsync();
            }
            else
            {
                IMessage response = await CallUnaryAsync(call, method, service, maxMessageBytes);
                GrpcFraming.WriteMessage(context.Response.BodyWriter, response, call.Gzip);
                // Never cancel a response flush with the deadline: Kestrel aborts the stream when a flush is cancelled.
                await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
            }

            GrpcCall.Finish(context, GrpcStatusCode.Ok);
        }
        catch (GrpcException e)
        {
            GrpcCall.Finish(context, e.Status, e.Message);
        }
        catch (InferenceException e)
        {
            GrpcCall.Finish(context, StatusFor(e.Error.Kind), e.Message);
        }
        catch (OperationCanceledException) when (call?.DeadlineExceeded == true)
        {
            GrpcCall.Finish(context, GrpcStatusCode.DeadlineExceeded, "the call's deadline (grpc-timeout) passed before it finished");
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client cancelled or went away; nobody is left to answer.
        }
        catch (Exception e)
        {
            Log.UnhandledError(logger, method, e);
            GrpcCall.Finish(context, GrpcStatusCode.Internal, $"internal error: {e.Message}");
        }
        finally
        {
            call?.Dispose();
        }
    }

    private static async Task<IMessage> CallUnaryAsync(GrpcCall call, string method, GrpcInferenceService service, int maxMessageBytes)
    {
        IMessage request = await GrpcFraming.ReadMessageAsync<IMessage>(call.Context.Request.BodyReader, maxMessageBytes, call.Gzip, bytes => method switch
        {
            "ServerLive" => Parse(ServerLiveRequest.Parser, bytes),
            "ServerReady" => Parse(ServerReadyRequest.Parser, bytes),
            "ModelReady" => Parse(ModelReadyRequest.Parser, bytes),
            "ServerMetadata" => Parse(ServerMetadataRequest.Parser, bytes),
            "ModelMetadata" => Parse(ModelMetadataRequest.Parser, bytes),
            "ModelInfer" => Parse(ModelInferRequest.Parser, bytes),
            "ModelConfig" => Parse(ModelConfigRequest.Parser, bytes),
            "ModelStatistics" => Parse(ModelStatisticsRequest.Parser, bytes),
            "RepositoryIndex" => Parse(RepositoryIndexRequest.Parser, bytes),
            "RepositoryModelLoad" => Parse(RepositoryModelLoadRequest.Parser, bytes),
            "RepositoryModelUnload" => Parse(RepositoryModelUnloadRequest.Parser, bytes),
            _ => throw new GrpcException(GrpcStatusCode.Unimplemented, $"inference.GRPCInferenceService has no method '{method}' in Quiver"),
        }, call.Cancellation) ?? throw GrpcException.InvalidArgument($"{method} needs one request message, and the call sent none");

        // Another tenant's model is answered exactly as a model that does not exist.
        if (ModelNamed(request) is { Length: > 0 } model)
        {
            await RequireVisibleAsync(call, method, model);
        }

        CancellationToken cancellation = call.Cancellation;
        IMessage response = request switch
        {
            ServerLiveRequest r => service.ServerLive(r),
            ServerReadyRequest r => service.ServerReady(r),
            ModelReadyRequest r => service.ModelReady(r),
            ServerMetadataRequest r => service.ServerMetadata(r),
            ModelMetadataRequest r => service.ModelMetadata(r),
            ModelInferRequest r => await service.ModelInferAsync(r, cancellation),
            ModelConfigRequest r => service.ModelConfig(r),
            ModelStatisticsRequest r => service.ModelStatistics(r),
            RepositoryIndexRequest r => service.RepositoryIndex(r),
            RepositoryModelLoadRequest r => await AuditedLoadAsync(call, r, service),
            RepositoryModelUnloadRequest r => await AuditedUnloadAsync(call, r, service),
            _ => throw new InvalidOperationException($"no handler for {request.GetType().Name}"),
        };
        return await HideOtherTenantsAsync(call, response);
    }

    /// <summary>The model a request names, if it names one.</summary>
    private static string? ModelNamed(IMessage request) => request switch
    {
        ModelReadyRequest r => r.Name,
        ModelMetadataRequest r => r.Name,
        ModelInferRequest r => r.ModelName,
        ModelConfigRequest r => r.Name,
        ModelStatisticsRequest r => r.Name,
        RepositoryModelLoadRequest r => r.ModelName,
        RepositoryModelUnloadRequest r => r.ModelName,
        _ => null,
    };

    /// <summary>Throws NOT_FOUND, in the words used for a model that does not exist, for a model of another tenant.</summary>
    internal static async Task RequireVisibleAsync(GrpcCall call, string method, string model)
    {
        if (Security.ModelVisibility.Of(call.Context) is { } visibility && !await visibility.CanSeeAsync(model, call.Cancellation))
        {
            throw new GrpcException(GrpcStatusCode.NotFound, visibility.NotFoundMessage(model, "grpc " + method));
        }
    }

    // Lists (the repository index, every model's statistics) leave out the models of other tenants.
    private static async Task<IMessage> HideOtherTenantsAsync(GrpcCall call, IMessage response)
    {
        if (Security.ModelVisibility.Of(call.Context) is not { } visibility || response is not (RepositoryIndexResponse or ModelStatisticsResponse))
        {
            return response;
        }

        Func<string, bool> visible = await visibility.VisibleAsync(call.Cancellation);
        if (response is RepositoryIndexResponse index)
        {
            var shown = new RepositoryIndexResponse();
            shown.Models.AddRange(index.Models.Where(m => visible(m.Name)));
            return shown;
        }

        var statistics = (ModelStatisticsResponse)response;
        var kept = new ModelStatisticsResponse();
        kept.ModelStats.AddRange(statistics.ModelStats.Where(m => visible(m.Name)));
        return kept;
    }

    // Loading and unloading are management actions: audited as over REST.
    private static Task<RepositoryModelLoadResponse> AuditedLoadAsync(GrpcCall call, RepositoryModelLoadRequest request, GrpcInferenceService service) =>
        AuditedEndpoints.RunAsync(call.Context, "repository.load", $"models/{request.ModelName}",
            () => service.RepositoryModelLoadAsync(request, call.Cancellation));

    private static Task<RepositoryModelUnloadResponse> AuditedUnloadAsync(GrpcCall call, RepositoryModelUnloadRequest request, GrpcInferenceService service) =>
        AuditedEndpoints.RunAsync(call.Context, "repository.unload", $"models/{request.ModelName}",
            () => service.RepositoryModelUnloadAsync(request, call.Cancellation));

    public static T Parse<T>(MessageParser<T> parser, System.Buffers.ReadOnlySequence<byte> message) where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(message);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw GrpcException.InvalidArgument($"the request is not a valid {typeof(T).Name} message: {e.Message}");
        }
    }

    /// <summary>The one place where an <see cref="ErrorKind"/> becomes a gRPC status.</summary>
    public static GrpcStatusCode StatusFor(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => GrpcStatusCode.InvalidArgument,
        ErrorKind.NotFound => GrpcStatusCode.NotFound,
        ErrorKind.Unavailable => GrpcStatusCode.Unavailable,
        ErrorKind.PayloadTooLarge or ErrorKind.QueueFull => GrpcStatusCode.ResourceExhausted,
        ErrorKind.DeadlineExceeded => GrpcStatusCode.DeadlineExceeded,
        _ => GrpcStatusCode.Internal,
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Error, Message = "Unhandled error in gRPC method {Method}")]
        public static partial void UnhandledError(ILogger logger, string method, Exception exception);
    }
}
