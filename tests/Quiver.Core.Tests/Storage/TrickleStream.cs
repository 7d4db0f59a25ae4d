namespace Quiver.Core.Tests.Storage;

/// <summary>
/// An upload that arrives in small chunks and cannot seek, like a request body; with <c>stallAfter</c>, it stops
/// after that many bytes and waits for cancellation, like a client that goes away mid-upload.
/// </summary>
internal sealed class TrickleStream(byte[] data, int chunkBytes = 512, int? stallAfter = null) : Stream
{
    private int _position;

    /// <summary>Completes when the stream has stalled, i.e. the reader is waiting mid-upload.</summary>
    public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (stallAfter is { } limit && _position >= limit)
        {
            Stalled.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        var count = Math.Min(Math.Min(chunkBytes, buffer.Length), data.Length - _position);
        data.AsSpan(_position, count).CopyTo(buffer.Span);
        _position += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
