using System.Buffers;
using Microsoft.AspNetCore.Http;
using Quiver.Core.Tensors;

namespace Quiver.Server.Rest;

/// <summary>A request body read into a pooled buffer; return it with <see cref="Dispose"/>.</summary>
internal sealed class RequestBody : IDisposable
{
    // Widest element of a fixed-size datatype (INT64, UINT64, FP64).
    private const int Alignment = 8;

    private readonly int _start;
    private byte[] _buffer;

    private RequestBody(byte[] buffer, int start)
    {
        _buffer = buffer;
        _start = start;
    }

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(_start, Length);

    /// <summary>The body as memory; valid only until <see cref="Dispose"/>.</summary>
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(_start, Length);

    /// <summary>Reads the whole body, refusing more than <paramref name="limit"/> bytes with a PayloadTooLarge error.</summary>
    /// <param name="alignedOffset">
    /// An offset into the body that should lie on an 8-byte boundary in memory: where the binary tensors of the binary
    /// data extension start, so ONNX Runtime can take them where they lie instead of from an aligned copy.
    /// </param>
    public static async Task<RequestBody> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken, long alignedOffset = 0)
    {
        if (request.ContentLength > limit)
        {
            throw TooLarge(request.ContentLength.Value, limit);
        }

        // Pooled arrays start on a boundary of at least 8 bytes, so the offset's remainder is all there is to make up.
        int start = (int)((Alignment - (alignedOffset % Alignment)) % Alignment);
        int capacity = (int)Math.Min(request.ContentLength ?? 16 * 1024, limit);
        var body = new RequestBody(ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 256) + start), start);
        try
        {
            while (true)
            {
                int room = (int)Math.Min(body._buffer.Length - start, limit) - body.Length;
                if (room == 0)
                {
                    if (body.Length >= limit)
                    {
                        // The body fills the limit exactly or goes past it: one more byte tells which.
                        int extra = await request.Body.ReadAsync(new byte[1], cancellationToken);
                        return extra == 0 ? body : throw TooLarge(body.Length + 1, limit);
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)body._buffer.Length * 2, limit) + start);
                    body._buffer.AsSpan(0, start + body.Length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(body._buffer);
                    body._buffer = larger;
                    continue;
                }

                int read = await request.Body.ReadAsync(body._buffer.AsMemory(start + body.Length, room), cancellationToken);
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
