using Microsoft.AspNetCore.Http;
using Quiver.Core.Tensors;

namespace Quiver.Server.Rest;

/// <summary>The one place where an <see cref="ErrorKind"/> becomes an HTTP status.</summary>
internal static class ErrorStatus
{
    public static int For(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => StatusCodes.Status400BadRequest,
        ErrorKind.NotFound => StatusCodes.Status404NotFound,
        ErrorKind.PayloadTooLarge => StatusCodes.Status413PayloadTooLarge,
        ErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
        ErrorKind.QueueFull => StatusCodes.Status429TooManyRequests,
        ErrorKind.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };
}
