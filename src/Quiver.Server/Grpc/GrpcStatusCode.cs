namespace Quiver.Server.Grpc;

/// <summary>gRPC status codes, numbered as the gRPC specification numbers them.</summary>
internal enum GrpcStatusCode
{
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// <summary>A call that ends with a non-OK status; the message goes to the client in grpc-message.</summary>
internal sealed class GrpcException(GrpcStatusCode status, string message) : Exception(message)
{
    public GrpcStatusCode Status { get; } = status;

    public static GrpcException InvalidArgument(string message) => new(GrpcStatusCode.InvalidArgument, message);
}
