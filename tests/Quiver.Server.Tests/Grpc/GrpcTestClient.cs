using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Quiver.Server.Tests.Grpc;

/// <summary>
/// A minimal gRPC client over HttpClient's HTTP/2 (prior knowledge), framing messages by hand so tests
/// can also send broken frames. Independent of the server's own framing code. Disposes the HttpClient it is given
/// (one with a TLS client certificate, say).
/// </summary>
public sealed class GrpcTestClient(HttpClient client) : IDisposable
{
    private readonly HttpClient _client = client;

    public GrpcTestClient(Uri address)
        : this(new HttpClient { BaseAddress = address })
    {
    }

    public void Dispose() => _client.Dispose();

    /// <summary>One frame: flag, big-endian length, payload.</summary>
    public static byte[] Frame(byte[] payload, bool compressed = false, uint? declaredLength = null)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    public async Task<GrpcResult> CallAsync(string method, byte[] body, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/inference.GRPCInferenceService/" + method)
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using HttpResponseMessage response = await _client.SendAsync(request);
        byte[] content = await response.Content.ReadAsByteArrayAsync();
        return new GrpcResult((int)response.StatusCode, ReadFrames(content), Header(response.TrailingHeaders, "grpc-status"),
            Uri.UnescapeDataString(Header(response.TrailingHeaders, "grpc-message") ?? ""), response.Content.Headers.ContentType?.MediaType);
    }

    public async Task<(T Response, GrpcResult Result)> UnaryAsync<T>(string method, IMessage request, MessageParser<T> parser)
        where T : IMessage<T>
    {
        GrpcResult result = await CallAsync(method, Frame(request));
        return (result.Messages.Count == 1 ? parser.ParseFrom(result.Messages[0]) : default!, result);
    }

    private static List<byte[]> ReadFrames(byte[] content)
    {
        var frames = new List<byte[]>();
        int offset = 0;
        while (offset + 5 <= content.Length)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(content.AsSpan(offset + 1));
            frames.Add(content.AsSpan(offset + 5, length).ToArray());
            offset += 5 + length;
        }

        return frames;
    }

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out IEnumerable<string>? values) ? values.First() : null;
}

/// <summary>What a call returned: HTTP status, response messages, and the grpc-status trailer.</summary>
public sealed record GrpcResult(int HttpStatus, List<byte[]> Messages, string? GrpcStatus, string GrpcMessage, string? ContentType)
{
    public int Status => int.Parse(GrpcStatus ?? "-1", System.Globalization.CultureInfo.InvariantCulture);
}
