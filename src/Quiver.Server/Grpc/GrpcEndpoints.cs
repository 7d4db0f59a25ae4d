using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Quiver.Core.Tensors;
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
        byte[] request = await GrpcFraming.ReadMessageAsync(call.Context.Request.BodyReader, maxMessageBytes, call.Gzip, call.Cancellation)
            ?? throw GrpcException.InvalidArgument($"{method} needs one request message, and the call sent none");
        CancellationToken cancellation = call.Cancellation;
        return method switch
        {
            "ServerLive" => service.ServerLive(Parse(ServerLiveRequest.Parser, request)),
            "ServerReady" => service.ServerReady(Parse(ServerReadyRequest.Parser, request)),
            "ModelReady" => service.ModelReady(Parse(ModelReadyRequest.Parser, request)),
            "ServerMetadata" => service.ServerMetadata(Parse(ServerMetadataRequest.Parser, request)),
            "ModelMetadata" => service.ModelMetadata(Parse(ModelMetadataRequest.Parser, request)),
            "ModelInfer" => await service.ModelInferAsync(Parse(ModelInferRequest.Parser, request), cancellation),
            "ModelConfig" => service.ModelConfig(Parse(ModelConfigRequest.Parser, request)),
            "ModelStatistics" => service.ModelStatistics(Parse(ModelStatisticsRequest.Parser, request)),
            "RepositoryIndex" => service.RepositoryIndex(Parse(RepositoryIndexRequest.Parser, request)),
            "RepositoryModelLoad" => await service.RepositoryModelLoadAsync(Parse(RepositoryModelLoadRequest.Parser, request), cancellation),
            "RepositoryModelUnload" => await service.RepositoryModelUnloadAsync(Parse(RepositoryModelUnloadRequest.Parser, request), cancellation),
            _ => throw new GrpcException(GrpcStatusCode.Unimplemented, $"inference.GRPCInferenceService has no method '{method}' in Quiver"),
        };
    }

    public static T Parse<T>(MessageParser<T> parser, byte[] message) where T : IMessage<T>
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
