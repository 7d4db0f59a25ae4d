using System.Security.Cryptography;

namespace Quiver.Core.Batch;

/// <summary>
/// The plaintext of a file sealed by <see cref="UploadCipher.SealAsync"/>: read-only and seekable, one decrypted chunk
/// (64 KiB) in memory, each chunk authenticated before a byte of it is returned.
/// </summary>
internal sealed class UploadReadStream : Stream
{
    private const int RecordBytes = UploadCipher.ChunkBytes + UploadCipher.TagBytes;

    private readonly Stream _file;
    private readonly string _path;
    private readonly byte[] _header;
    private readonly AesGcm _aes;
    private readonly long _lastChunk;
    private readonly int _lastRecordBytes;
    private readonly byte[] _record = new byte[RecordBytes];
    private readonly byte[] _plain = new byte[UploadCipher.ChunkBytes];
    private long _loadedChunk = -1;
    private int _loadedBytes;
    private long _position;

    public UploadReadStream(Stream file, string path, byte[] header, AesGcm aes)
    {
        _file = file;
        _path = path;
        _header = header;
        _aes = aes;
        long body = file.Length - UploadCipher.HeaderBytes;
        _lastChunk = body / RecordBytes;
        _lastRecordBytes = (int)(body % RecordBytes);
        if (_lastRecordBytes < UploadCipher.TagBytes)
        {
            aes.Dispose();
            throw Damaged(path, $"its length ({file.Length} bytes) is not one a sealed upload can have: it was cut short or added to");
        }

        Length = _lastChunk * UploadCipher.ChunkBytes + _lastRecordBytes - UploadCipher.TagBytes;
    }

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length { get; }

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "A position cannot be negative.");
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_position >= Length || buffer.IsEmpty)
        {
            return 0;
        }

        long chunk = _position / UploadCipher.ChunkBytes;
        if (chunk != _loadedChunk)
        {
            Load(chunk);
        }

        int at = (int)(_position - chunk * UploadCipher.ChunkBytes);
        int count = Math.Min(buffer.Length, _loadedBytes - at);
        _plain.AsSpan(at, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => Length + offset,
        };
        return _position;
    }

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException("An upload is read-only.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("An upload is read-only.");

    internal static BatchException Damaged(string path, string reason) =>
        new(BatchErrorKind.Input, $"upload '{path}' cannot be read: {reason}. Upload the input again.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _aes.Dispose();
            _file.Dispose();
            CryptographicOperations.ZeroMemory(_plain);
        }

        base.Dispose(disposing);
    }

    private void Load(long chunk)
    {
        bool last = chunk == _lastChunk;
        int recordBytes = last ? _lastRecordBytes : RecordBytes;
        _file.Position = UploadCipher.HeaderBytes + chunk * RecordBytes;
        _file.ReadExactly(_record, 0, recordBytes);
        int plainBytes = recordBytes - UploadCipher.TagBytes;
        Span<byte> nonce = stackalloc byte[UploadCipher.NonceBytes];
        Span<byte> associated = stackalloc byte[UploadCipher.HeaderBytes + 1];
        UploadCipher.Nonce(chunk, nonce);
        UploadCipher.AssociatedData(_header, last, associated);
        try
        {
            _aes.Decrypt(nonce, _record.AsSpan(0, plainBytes), _record.AsSpan(plainBytes, UploadCipher.TagBytes), _plain.AsSpan(0, plainBytes), associated);
        }
        catch (AuthenticationTagMismatchException)
        {
            _loadedChunk = -1;
            throw Damaged(_path, $"chunk {chunk} (bytes {chunk * UploadCipher.ChunkBytes} to {chunk * UploadCipher.ChunkBytes + plainBytes} of the input) " +
                "fails authentication: the file was changed, reordered or cut short on disk");
        }

        _loadedChunk = chunk;
        _loadedBytes = plainBytes;
    }
}
