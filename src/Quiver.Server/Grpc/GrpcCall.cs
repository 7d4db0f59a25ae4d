using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Quiver.Server.Grpc;

/// <summary>
/// One gRPC call on an HTTP/2 stream: its negotiated compression, its deadline, and the trailers
/// (<c>grpc-status</c>, <c>grpc-message</c>) that end it.
/// </summary>
internal sealed class GrpcCall : IDisposable
{
    private readonly CancellationTokenSource _cancellation;

    private GrpcCall(HttpContext context, bool gzip, TimeSpan? timeout)
    {
        Context = context;
        Gzip = gzip;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        if (timeout is { } deadline)
        {
            _cancellation.CancelAfter(deadline);
        }
    }

    public HttpContext Context { get; }

    /// <summary>Whether request messages may be, and response messages are, gzip-compressed.</summary>
    public bool Gzip { get; }

    /// <summary>Cancelled when the client goes away or the call's grpc-timeout passes.</summary>
    public CancellationToken Cancellation => _cancellation.Token;

    /// <summary>True when the call ended because its deadline passed, not because the client left.</summary>
    public bool DeadlineExceeded => _cancellation.IsCancellationRequested && !Context.RequestAborted.IsCancellationRequested;

    /// <summary>Reads the call's headers; throws <see cref="GrpcException"/> for an encoding or timeout it cannot honour.</summary>
    public static GrpcCall Start(HttpContext context)
    {
        string encoding = context.Request.Headers["grpc-encoding"].ToString();
        bool gzip = encoding switch
        {
            "" or "identity" => false,
            "gzip" => true,
            _ => throw new GrpcException(GrpcStatusCode.Unimplemented, $"grpc-encoding '{encoding}' is not supported; use gzip or identity"),
        };
        var call = new GrpcCall(context, gzip, ParseTimeout(context.Request.Headers["grpc-timeout"]));
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-accept-encoding"] = "identity,gzip";
        if (gzip)
        {
            context.Response.Headers["grpc-encoding"] = "gzip";
        }

        return call;
    }

    /// <summary>Ends the call with a status; the message is percent-encoded as gRPC requires.</summary>
    public static void Finish(HttpContext context, GrpcStatusCode status, string? message = null)
    {
        if (!context.Response.HasStarted)
        {
            context.Response.ContentType = "application/grpc";
        }

        context.Response.AppendTrailer("grpc-status", ((int)status).ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(message))
        {
            context.Response.AppendTrailer("grpc-message", PercentEncode(message));
        }
    }

    public void Dispose() => _cancellation.Dispose();

    // grpc-timeout is 1 to 8 digits and a unit: H, M, S, m (ms), u (µs) or n (ns).
    private static TimeSpan? ParseTimeout(StringValues header)
    {
        string value = header.ToString();
        if (value.Length == 0)
        {
            return null;
        }

        if (value.Length is < 2 or > 9 || !long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long amount))
        {
            throw GrpcException.InvalidArgument($"grpc-timeout '{value}' is not 1 to 8 digits followed by H, M, S, m, u or n");
        }

        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(Math.Max(1, amount / 100)),
            _ => throw GrpcException.InvalidArgument($"grpc-timeout '{value}' has unit '{value[^1]}'; expected H, M, S, m, u or n"),
        };
    }

    private static string PercentEncode(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }
}
