using System.Buffers;
using Microsoft.AspNetCore.Http;
using Quiver.Core.Tensors;

namespace Quiver.Server.Rest;

/// <summary>A request body read into a pooled buffer; return it with <see cref="Dispose"/>.</summary>
internal sealed class RequestBody : IDisposable
{
    private byte[] _buffer;

    private RequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
    }

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    /// <summary>The body as memory; valid only until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>Reads the whole body, refusing more than <paramref name="limit"/> bytes with a PayloadTooLarge error.</summary>
    public static async Task<RequestBody> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            throw TooLarge(request.ContentLength.Value, limit);
        }

        int capacity = (int)Math.Min(request.ContentLength ?? 16 * 1024, limit);
        var body = new RequestBody(ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 256)), 0);
        try
        {
            while (true)
            {
                int room = (int)Math.Min(body._buffer.Length, limit) - body.Length;
                if (room == 0)
                {
                    if (body.Length >= limit)
                    {
                        // The body fills the limit exactly or goes past it: one more byte tells which.
                        int extra = await request.Body.ReadAsync(new byte[1], cancellationToken);
                        return extra == 0 ? body : throw TooLarge(body.Length + 1, limit);
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)body._buffer.Length * 2, limit));
                    body._buffer.AsSpan(0, body.Length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(body._buffer);
                    body._buffer = larger;
                    continue;
                }

                int read = await request.Body.ReadAsync(body._buffer.AsMemory(body.Length, room), cancellationToken);
                if (read == 0)
                {
                    return body;
                }

                body.Length += read;
            }
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }

    private static InferenceException TooLarge(long size, long limit) => new(new InferenceError(ErrorKind.PayloadTooLarge,
        $"request body of {size} bytes or more exceeds the limit of {limit} bytes (set with --max-request-bytes)."));
}
