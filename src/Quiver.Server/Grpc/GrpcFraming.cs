using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Pipelines;
using Google.Protobuf;

namespace Quiver.Server.Grpc;

/// <summary>
/// gRPC's message framing over an HTTP/2 stream: a 1-byte compressed flag, a 4-byte big-endian length,
/// then the message. Messages compressed with gzip are accepted when the call declared
/// <c>grpc-encoding: gzip</c>.
/// </summary>
internal static class GrpcFraming
{
    private const int HeaderSize = 5;

    /// <summary>
    /// Reads the next whole message; null when the client has closed its side cleanly between messages.
    /// Throws <see cref="GrpcException"/> for a truncated frame, a message over <paramref name="maxSize"/>,
    /// or a compressed message without a negotiated encoding.
    /// </summary>
    public static async ValueTask<byte[]?> ReadMessageAsync(PipeReader reader, int maxSize, bool gzip, CancellationToken cancellationToken) =>
        await ReadMessageAsync(reader, maxSize, gzip, message => message.ToArray(), cancellationToken);

    /// <summary>
    /// Reads the next whole message and hands it to <paramref name="parse"/> where it lies in the pipe's buffers, so an
    /// uncompressed message is not copied whole before parsing; returns default when the client has closed its side
    /// cleanly. Throws as <see cref="ReadMessageAsync(PipeReader, int, bool, CancellationToken)"/> does.
    /// </summary>
    public static async ValueTask<T?> ReadMessageAsync<T>(PipeReader reader, int maxSize, bool gzip, Func<ReadOnlySequence<byte>, T> parse,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (TryReadFrame(buffer, maxSize, out ReadOnlySequence<byte> message, out bool compressed))
            {
                try
                {
                    if (compressed && !gzip)
                    {
                        throw GrpcException.InvalidArgument(
                            "the message has the compressed flag set, but the call declared no grpc-encoding; send grpc-encoding: gzip or an uncompressed message");
                    }

                    return parse(compressed ? new ReadOnlySequence<byte>(Decompress(message.ToArray(), maxSize)) : message);
                }
                finally
                {
                    reader.AdvanceTo(message.End);
                }
            }

            if (result.IsCompleted)
            {
                string? truncated = buffer.Length == 0 ? null : TruncatedMessage(buffer);
                reader.AdvanceTo(buffer.End);
                return truncated is null ? default : throw GrpcException.InvalidArgument(truncated);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Writes one message as a frame, gzip-compressed when <paramref name="gzip"/> is set.</summary>
    public static void WriteMessage(IBufferWriter<byte> writer, IMessage message, bool gzip)
    {
        if (gzip)
        {
            byte[] compressed = Compress(message.ToByteArray());
            Span<byte> frame = writer.GetSpan(HeaderSize + compressed.Length);
            frame[0] = 1;
            BinaryPrimitives.WriteUInt32BigEndian(frame[1..], (uint)compressed.Length);
            compressed.CopyTo(frame[HeaderSize..]);
            writer.Advance(HeaderSize + compressed.Length);
            return;
        }

        int size = message.CalculateSize();
        Span<byte> span = writer.GetSpan(HeaderSize + size);
        span[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)size);
        message.WriteTo(span.Slice(HeaderSize, size));
        writer.Advance(HeaderSize + size);
    }

    private static bool TryReadFrame(ReadOnlySequence<byte> buffer, int maxSize, out ReadOnlySequence<byte> message, out bool compressed)
    {
        message = default;
        compressed = false;
        if (buffer.Length < HeaderSize)
        {
            return false;
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        if (header[0] > 1)
        {
            throw GrpcException.InvalidArgument($"the frame's compressed flag is {header[0]}; gRPC allows only 0 or 1");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > maxSize)
        {
            throw new GrpcException(GrpcStatusCode.ResourceExhausted,
                $"the message is {length} bytes, more than the server's limit of {maxSize} bytes");
        }

        if (buffer.Length < HeaderSize + length)
        {
            return false;
        }

        compressed = header[0] == 1;
        message = buffer.Slice(HeaderSize, length);
        return true;
    }

    private static string TruncatedMessage(ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < HeaderSize)
        {
            return $"the request ended inside a frame header ({buffer.Length} of 5 bytes)";
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        return $"the request ended inside a message: its length prefix says {length} bytes, but only {buffer.Length - HeaderSize} followed";
    }

    private static byte[] Decompress(byte[] message, int maxSize)
    {
        try
        {
            using var input = new GZipStream(new MemoryStream(message), CompressionMode.Decompress);
            using var output = new MemoryStream();
            byte[] chunk = new byte[81920];
            int read;
            while ((read = input.Read(chunk)) > 0)
            {
                if (output.Length + read > maxSize)
                {
                    throw new GrpcException(GrpcStatusCode.ResourceExhausted,
                        $"the decompressed message is more than the server's limit of {maxSize} bytes");
                }

                output.Write(chunk, 0, read);
            }

            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw GrpcException.InvalidArgument($"the message is not valid gzip: {e.Message}");
        }
    }

    private static byte[] Compress(byte[] message)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(message);
        }

        return output.ToArray();
    }
}
