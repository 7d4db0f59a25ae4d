namespace Quiver.Cli.Admin;

/// <summary>The server refused a request (HTTP 4xx/5xx): its own message, printed as is, exit code 1.</summary>
public sealed class AdminApiException(int statusCode, string message) : Exception(message)
{
    /// <summary>The HTTP status code of the answer.</summary>
    public int StatusCode { get; } = statusCode;
}
