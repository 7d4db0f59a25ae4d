namespace Quiver.Core.Tensors;

/// <summary>What kind of failure; each transport maps it to its own status in one place.</summary>
public enum ErrorKind
{
    /// <summary>The request is malformed or does not fit the model (HTTP 400, INVALID_ARGUMENT).</summary>
    InvalidArgument,

    /// <summary>No such model or version (HTTP 404, NOT_FOUND).</summary>
    NotFound,

    /// <summary>The model exists but is not ready (HTTP 503, UNAVAILABLE).</summary>
    Unavailable,

    /// <summary>The request is larger than allowed (HTTP 413, RESOURCE_EXHAUSTED).</summary>
    PayloadTooLarge,

    /// <summary>The model's queue is full; retry later (HTTP 429 with Retry-After, RESOURCE_EXHAUSTED).</summary>
    QueueFull,

    /// <summary>The request's deadline passed before it could run (HTTP 504, DEADLINE_EXCEEDED).</summary>
    DeadlineExceeded,

    /// <summary>The engine failed while running a valid request (HTTP 500, INTERNAL).</summary>
    Internal,
}

/// <summary>An expected failure, carried as a value on the hot path.</summary>
public sealed record InferenceError(ErrorKind Kind, string Message);

/// <summary>Thrown by decoders for input that cannot be turned into a request at all.</summary>
public sealed class InferenceException(InferenceError error) : Exception(error.Message)
{
    public InferenceError Error { get; } = error;

    public static InferenceException InvalidArgument(string message) => new(new InferenceError(ErrorKind.InvalidArgument, message));
}
