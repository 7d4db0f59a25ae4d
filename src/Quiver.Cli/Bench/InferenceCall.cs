using System.Net;
using System.Net.Http.Headers;

namespace Quiver.Cli.Bench;

/// <summary>
/// One worker's way of sending the pre-encoded request; owned by a single worker, so its receive buffer is
/// reused without locking. Returns null on success, else what went wrong.
/// </summary>
public abstract class InferenceCall
{
    // Responses are drained into this rather than buffered, so the generator allocates nothing per response body.
    private readonly byte[] _drain = new byte[16 * 1024];

    /// <summary>Sends one request and reads the whole response.</summary>
    public abstract Task<string?> SendAsync(CancellationToken cancellationToken);

    /// <summary>Reads and discards a response body.</summary>
    protected async Task DrainAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken);
        while (await body.ReadAsync(_drain, cancellationToken) > 0)
        {
        }
    }

    /// <summary>A failure's text, with the network's reason rather than a stack trace.</summary>
    protected static string Describe(Exception e) => e switch
    {
        HttpRequestException http => ServerApi.Describe(http),
        TaskCanceledException => "timed out",
        _ => e.Message,
    };
}

/// <summary>A REST inference over HTTP/1.1: JSON tensors, or the binary extension with its header length.</summary>
public sealed class RestInferenceCall(HttpClient client, Uri inferUri, byte[] body, int? binaryHeaderLength) : InferenceCall
{
    private readonly string _headerLength = binaryHeaderLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "";

    /// <inheritdoc />
    public override async Task<string?> SendAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var content = new ByteArrayContent(body);
            using var request = new HttpRequestMessage(HttpMethod.Post, inferUri) { Content = content };
            if (binaryHeaderLength is null)
            {
                content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            }
            else
            {
                content.Headers.TryAddWithoutValidation("Content-Type", "application/octet-stream");
                request.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", _headerLength);
            }

            using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                string text = await response.Content.ReadAsStringAsync(cancellationToken);
                return $"HTTP {(int)response.StatusCode}: {ServerApi.ErrorText(text)}";
            }

            await DrainAsync(response, cancellationToken);
            return null;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return Describe(e);
        }
    }
}

/// <summary>A unary gRPC ModelInfer over HTTP/2 cleartext; success is grpc-status 0 in the trailers.</summary>
public sealed class GrpcInferenceCall(HttpClient client, Uri methodUri, byte[] frame) : InferenceCall
{
    /// <inheritdoc />
    public override async Task<string?> SendAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var content = new ByteArrayContent(frame);
            content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
            using var request = new HttpRequestMessage(HttpMethod.Post, methodUri)
            {
                Content = content,
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            request.Headers.TryAddWithoutValidation("te", "trailers");
            using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return $"HTTP {(int)response.StatusCode} from the gRPC port";
            }

            await DrainAsync(response, cancellationToken);
            // A call that fails before any message may answer with headers only ("trailers-only").
            string? status = Header(response.TrailingHeaders, "grpc-status") ?? Header(response.Headers, "grpc-status");
            if (status == "0")
            {
                return null;
            }

            string message = Header(response.TrailingHeaders, "grpc-message") ?? Header(response.Headers, "grpc-message") ?? "";
            return $"grpc-status {status ?? "missing"}: {Uri.UnescapeDataString(message)}";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return Describe(e);
        }
    }

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out IEnumerable<string>? values) ? values.FirstOrDefault() : null;
}
