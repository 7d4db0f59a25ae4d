using Npgsql;

namespace Quiver.Core.Registry;

/// <summary>
/// Reads a stored artifact forward, one chunk row per query, so a multi-gigabyte model never sits in memory whole.
/// Stored artifacts change only when replaced while no version records them (so none is being read): chunks read by
/// separate queries belong together.
/// </summary>
internal sealed class PostgresArtifactStream(
    NpgsqlDataSource dataSource, string sha256, long length, int chunkCount, Func<Exception, RegistryException?> translate) : Stream
{
    private const string ChunkQuery = "SELECT bytes FROM artifact_chunks WHERE sha256 = @sha256 AND chunk_index = @index";

    private byte[] _chunk = [];
    private int _chunkIndex = -1;
    private int _offsetInChunk;
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException("An artifact stream reads forward only.");
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (NeedsChunk())
        {
            using NpgsqlCommand command = ChunkCommand();
            try
            {
                NextChunk(command.ExecuteScalar());
            }
            catch (Exception e) when (translate(e) is { } mapped)
            {
                throw mapped;
            }
        }

        return CopyOut(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (NeedsChunk())
        {
            await using NpgsqlCommand command = ChunkCommand();
            try
            {
                NextChunk(await command.ExecuteScalarAsync(cancellationToken));
            }
            catch (Exception e) when (translate(e) is { } mapped)
            {
                throw mapped;
            }
        }

        return CopyOut(buffer.Span);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("An artifact stream reads forward only.");

    public override void SetLength(long value) => throw new NotSupportedException("An artifact stream is read-only.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("An artifact stream is read-only.");

    // True when the current chunk is used up and another follows.
    private bool NeedsChunk() => _offsetInChunk == _chunk.Length && _chunkIndex + 1 < chunkCount;

    // Moves on only once the next chunk arrived, so a failed read can be retried without skipping bytes.
    private void NextChunk(object? bytes)
    {
        _chunk = bytes as byte[] ?? throw new InvalidDataException($"chunk {_chunkIndex + 1} of artifact {sha256} is missing from the registry.");
        _chunkIndex++;
        _offsetInChunk = 0;
    }

    private int CopyOut(Span<byte> buffer)
    {
        int count = Math.Min(buffer.Length, _chunk.Length - _offsetInChunk);
        _chunk.AsSpan(_offsetInChunk, count).CopyTo(buffer);
        _offsetInChunk += count;
        _position += count;
        return count;
    }

    private NpgsqlCommand ChunkCommand()
    {
        NpgsqlCommand command = dataSource.CreateCommand(ChunkQuery);
        command.Parameters.AddWithValue("sha256", sha256);
        command.Parameters.AddWithValue("index", _chunkIndex + 1);
        return command;
    }
}
