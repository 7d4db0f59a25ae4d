using System.Globalization;
using Microsoft.AspNetCore.Http;
using Quiver.Core.Tensors;

namespace Quiver.Server.Rest;

/// <summary>
/// Triton's binary tensor data extension on REST: a body whose first <c>Inference-Header-Content-Length</c>
/// bytes are the JSON request and the rest the inputs' raw bytes; and responses whose binary outputs
/// follow their JSON the same way.
/// </summary>
internal static class BinaryTensorExtension
{
    public const string HeaderLengthHeader = "Inference-Header-Content-Length";

    /// <summary>
    /// The length of the JSON part the header declares, or null when the request does not use the extension. Throws
    /// an <see cref="InferenceException"/> for a header that is not a non-negative integer.
    /// </summary>
    public static long? DeclaredJsonLength(HttpRequest request)
    {
        if (!request.Headers.TryGetValue(HeaderLengthHeader, out var values))
        {
            return null;
        }

        string value = values.ToString();
        return long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long length) && length >= 0
            ? length
            : throw InferenceException.InvalidArgument($"{HeaderLengthHeader} must be a non-negative integer, got '{value}'");
    }

    /// <summary>The declared JSON length checked against the body: it must lie inside it.</summary>
    public static int? JsonLength(long? declared, int bodyLength) => declared switch
    {
        null => null,
        <= int.MaxValue and var length when length <= bodyLength => (int)length,
        var length => throw InferenceException.InvalidArgument($"{HeaderLengthHeader} is {length}, but the body has only {bodyLength} bytes"),
    };

    /// <summary>
    /// Whether an output goes back as binary: its own <c>binary_data</c> parameter decides, else the
    /// request's <c>binary_data_output</c>.
    /// </summary>
    public static Func<InferenceTensor, bool>? BinaryOutputs(InferenceRequest request)
    {
        bool all = request.Parameters.TryGetValue("binary_data_output", out object? flag) && flag is true;
        bool any = all || (request.Outputs?.Any(o => o.Parameters.TryGetValue("binary_data", out object? b) && b is true) ?? false);
        if (!any)
        {
            return null;
        }

        return tensor =>
        {
            RequestedOutput? asked = request.Outputs?.FirstOrDefault(o => o.Name == tensor.Name);
            return asked is not null && asked.Parameters.TryGetValue("binary_data", out object? own) && own is bool binary ? binary : all;
        };
    }

    /// <summary>Writes the JSON, then each binary output's bytes, with the header that says where the JSON ends.</summary>
    public static async Task WriteResponseAsync(HttpContext context, InferenceResponse response, Func<InferenceTensor, bool> isBinary)
    {
        var json = new System.Buffers.ArrayBufferWriter<byte>();
        InferenceJson.WriteResponse(json, response, isBinary);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/octet-stream";
        context.Response.Headers[HeaderLengthHeader] = json.WrittenCount.ToString(CultureInfo.InvariantCulture);
        await context.Response.BodyWriter.WriteAsync(json.WrittenMemory, context.RequestAborted);
        foreach (InferenceTensor tensor in response.Outputs)
        {
            if (isBinary(tensor))
            {
                await context.Response.BodyWriter.WriteAsync(InferenceJson.BinaryData(tensor), context.RequestAborted);
            }
        }
    }
}
