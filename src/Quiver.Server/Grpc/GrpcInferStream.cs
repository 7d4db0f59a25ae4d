using Quiver.Server.Grpc.Proto;

namespace Quiver.Server.Grpc;

/// <summary>
/// ModelStreamInfer: requests are read as they arrive and run concurrently (up to
/// <see cref="MaxInFlight"/>); each response is written when ready and carries its request's id, so
/// clients match them by id, as with Triton. A failed request gets a response with error_message and
/// the stream goes on; a broken frame ends the stream with a status after the requests in flight finish.
/// </summary>
internal sealed class GrpcInferStream(GrpcCall call, GrpcInferenceService service, int maxMessageBytes)
{
    /// <summary>Requests of one stream running at once; more wait for a slot, which applies back-pressure to the client.</summary>
    public const int MaxInFlight = 32;

    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly SemaphoreSlim _slots = new(MaxInFlight, MaxInFlight);

    public async Task RunAsync()
    {
        var running = new List<Task>();
        try
        {
            while (await GrpcFraming.ReadMessageAsync(call.Context.Request.BodyReader, maxMessageBytes, call.Gzip, call.Cancellation) is { } message)
            {
                await _slots.WaitAsync(call.Cancellation);
                running.RemoveAll(t => t.IsCompleted);
                running.Add(RunOneAsync(message));
            }
        }
        finally
        {
            await Task.WhenAll(running);
        }
    }

    private async Task RunOneAsync(byte[] message)
    {
        ModelStreamInferResponse response;
        ModelInferRequest? request = null;
        try
        {
            request = GrpcEndpoints.Parse(ModelInferRequest.Parser, new System.Buffers.ReadOnlySequence<byte>(message));
            await GrpcEndpoints.RequireVisibleAsync(call, "ModelStreamInfer", request.ModelName);
            response = new ModelStreamInferResponse { InferResponse = await service.ModelInferAsync(request, call.Cancellation) };
        }
        catch (GrpcException e)
        {
            response = Failure(request, e.Message);
        }
        catch (Core.Tensors.InferenceException e)
        {
            response = Failure(request, e.Message);
        }
        finally
        {
            _slots.Release();
        }

        await _writeLock.WaitAsync(call.Cancellation);
        try
        {
            GrpcFraming.WriteMessage(call.Context.Response.BodyWriter, response, call.Gzip);
            await call.Context.Response.BodyWriter.FlushAsync(call.Context.RequestAborted);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // The error response still names the request, so the client knows which one failed.
    private static ModelStreamInferResponse Failure(ModelInferRequest? request, string message) => new()
    {
        ErrorMessage = message,
        InferResponse = new ModelInferResponse
        {
            Id = request?.Id ?? "",
            ModelName = request?.ModelName ?? "",
            ModelVersion = request?.ModelVersion ?? "",
        },
    };
}
