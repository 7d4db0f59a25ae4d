using Microsoft.AspNetCore.Http;
using Quiver.Core.Registry;
using Quiver.Core.Storage;
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

    public static int For(RegistryErrorKind kind) => kind switch
    {
        RegistryErrorKind.NotFound => StatusCodes.Status404NotFound,
        RegistryErrorKind.Conflict => StatusCodes.Status409Conflict,
        RegistryErrorKind.Invalid => StatusCodes.Status400BadRequest,
        _ => StatusCodes.Status503ServiceUnavailable,
    };

    /// <summary>The status an exception escaping an endpoint is answered with (see <see cref="ErrorHandlingMiddleware"/>).</summary>
    public static int Of(Exception exception) => exception switch
    {
        InferenceException e => For(e.Error.Kind),
        RegistryException e => For(e.Kind),
        ArtifactException e => For(e),
        BadHttpRequestException e => e.StatusCode,
        _ => StatusCodes.Status500InternalServerError,
    };

    // A refused upload is the client's to fix; a stored artifact that cannot be read or opened is a conflict with
    // the server's state (corrupted file, wrong master key), not a bad request.
    public static int For(ArtifactException exception) =>
        exception is ArtifactRejectedException ? StatusCodes.Status400BadRequest : StatusCodes.Status409Conflict;
}
