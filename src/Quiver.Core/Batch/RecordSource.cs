namespace Quiver.Core.Batch;

/// <summary>What <see cref="RecordSource.Next"/> found.</summary>
internal enum RecordStatus
{
    /// <summary>A record; its bytes are valid until the next call.</summary>
    Record,

    /// <summary>The end of the input.</summary>
    End,

    /// <summary>A record longer than the limit; skipped to its end.</summary>
    TooLong,

    /// <summary>A quoted field still open at the end of the file; the rest of the file was this record.</summary>
    UnterminatedQuote,

    /// <summary>The file ends inside a fixed-size record (a truncated .npy file).</summary>
    Truncated,
}

/// <summary>
/// Splits an input file into records, tracking the byte offset and line number of the next one, so a checkpoint can
/// name an exact place to continue from. Never parses cells: that happens on the parse threads.
/// </summary>
internal abstract class RecordSource : IDisposable
{
    /// <summary>The byte offset of the next record.</summary>
    public abstract long Position { get; }

    /// <summary>The 1-based line of the next record; 0 for binary inputs.</summary>
    public abstract long Line { get; }

    /// <summary>The file's length in bytes.</summary>
    public abstract long Length { get; }

    /// <summary>Reads the next record; <paramref name="line"/> is the line it starts on.</summary>
    public abstract RecordStatus Next(out ReadOnlySpan<byte> record, out long line);

    /// <summary>Continues at a position and line a checkpoint recorded.</summary>
    public abstract void Seek(long position, long line);

    public abstract void Dispose();
}

/// <summary>
/// Line-delimited text (CSV, JSON lines). For CSV, a line break inside a quoted field does not end the record.
/// Blank lines are skipped; a trailing '\r' is dropped; a UTF-8 byte order mark at the start is skipped.
/// </summary>
internal sealed class TextRecordSource : RecordSource
{
    // 64 KiB reads: large enough that the per-read cost vanishes next to parsing, small enough to stay in L2.
    private const int ReadSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly bool _quotes;
    private readonly int _maxRecord;
    private byte[] _buffer = new byte[2 * ReadSize];
    private long _bufferOffset;
    private int _start;
    private int _end;
    private bool _eof;
    private long _line = 1;

    public TextRecordSource(Stream stream, bool quotes, int maxRecordBytes)
    {
        _stream = stream;
        _quotes = quotes;
        _maxRecord = maxRecordBytes;
        Length = stream.Length;
        Fill();
        if (_end - _start >= 3 && _buffer[0] == 0xEF && _buffer[1] == 0xBB && _buffer[2] == 0xBF)
        {
            _start = 3;
        }
    }

    public override long Position => _bufferOffset + _start;

    public override long Line => _line;

    public override long Length { get; }

    public override RecordStatus Next(out ReadOnlySpan<byte> record, out long line)
    {
        while (true)
        {
            RecordStatus status = NextRaw(out record, out line);
            if (status != RecordStatus.Record || !IsBlank(record))
            {
                return status;
            }
        }
    }

    public override void Seek(long position, long line)
    {
        _stream.Position = position;
        _bufferOffset = position;
        _start = _end = 0;
        _eof = false;
        _line = line;
        Fill();
    }

    public override void Dispose() => _stream.Dispose();

    private RecordStatus NextRaw(out ReadOnlySpan<byte> record, out long line)
    {
        line = _line;
        record = default;
        int scan = _start;
        bool inQuotes = false;
        int innerLines = 0;
        bool skipping = false;
        while (true)
        {
            int found = -1;
            while (scan < _end)
            {
                ReadOnlySpan<byte> rest = _buffer.AsSpan(scan, _end - scan);
                int at = _quotes ? rest.IndexOfAny((byte)'"', (byte)'\n') : rest.IndexOf((byte)'\n');
                if (at < 0)
                {
                    scan = _end;
                    break;
                }

                scan += at;
                if (_buffer[scan] == '"')
                {
                    inQuotes = !inQuotes;
                    scan++;
                }
                else if (inQuotes)
                {
                    innerLines++;
                    scan++;
                }
                else
                {
                    found = scan;
                    break;
                }
            }

            if (found >= 0)
            {
                int length = found - _start;
                record = _buffer.AsSpan(_start, length > 0 && _buffer[found - 1] == '\r' ? length - 1 : length);
                _start = found + 1;
                _line += 1 + innerLines;
                return skipping || length > _maxRecord ? RecordStatus.TooLong : RecordStatus.Record;
            }

            if (_eof)
            {
                if (_start == _end && !skipping)
                {
                    return RecordStatus.End;
                }

                int length = _end - _start;
                record = _buffer.AsSpan(_start, length > 0 && _buffer[_end - 1] == '\r' ? length - 1 : length);
                _start = _end;
                _line += 1 + innerLines;
                return skipping || length > _maxRecord ? RecordStatus.TooLong : inQuotes ? RecordStatus.UnterminatedQuote : RecordStatus.Record;
            }

            if (_end - _start >= _maxRecord)
            {
                // Too long to keep: forget the bytes so far, but keep scanning for the record's end.
                skipping = true;
                _start = _end;
            }

            scan -= _start;
            Compact();
            Fill();
        }
    }

    private void Compact()
    {
        int kept = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, kept);
            _bufferOffset += _start;
            _start = 0;
            _end = kept;
        }

        if (_buffer.Length - _end < ReadSize)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }
    }

    private void Fill()
    {
        while (!_eof && _buffer.Length - _end >= ReadSize)
        {
            int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0)
            {
                _eof = true;
                return;
            }

            _end += read;
            if (_end - _start >= ReadSize)
            {
                return;
            }
        }
    }

    private static bool IsBlank(ReadOnlySpan<byte> record) => record.IsEmpty || record.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0;
}

/// <summary>
/// NumPy's .npy format, version 1–3: a header naming dtype, order and shape, then the raw elements. Only 2-D
/// little-endian float32 in C order is accepted, so row i starts at header + i × columns × 4.
/// </summary>
internal sealed class NpySource : RecordSource
{
    private readonly Stream _stream;
    private readonly byte[] _row;
    private readonly long _dataOffset;
    private long _nextRow;

    private NpySource(Stream stream, long dataOffset, long rows, int columns)
    {
        _stream = stream;
        _dataOffset = dataOffset;
        Rows = rows;
        Columns = columns;
        _row = new byte[columns * sizeof(float)];
        Length = stream.Length;
        _stream.Position = dataOffset;
    }

    /// <summary>Rows, as the header declares them.</summary>
    public long Rows { get; }

    /// <summary>Elements per row.</summary>
    public int Columns { get; }

    public override long Position => _dataOffset + _nextRow * _row.Length;

    /// <summary>The position after the last row the header declares.</summary>
    public long End => _dataOffset + Rows * _row.Length;

    public override long Line => 0;

    public override long Length { get; }

    /// <summary>Reads and checks the header; throws <see cref="BatchException"/> for anything but 2-D '&lt;f4' C order.</summary>
    public static NpySource Open(Stream stream, string path)
    {
        Span<byte> prefix = stackalloc byte[10];
        if (stream.ReadAtLeast(prefix, 10, throwOnEndOfStream: false) < 10 || prefix[0] != 0x93 || !prefix[1..6].SequenceEqual("NUMPY"u8))
        {
            throw Bad(path, "it does not start with the .npy magic string \\x93NUMPY");
        }

        int major = prefix[6];
        int headerLength;
        int headerStart;
        if (major == 1)
        {
            headerLength = prefix[8] | prefix[9] << 8;
            headerStart = 10;
        }
        else if (major is 2 or 3)
        {
            Span<byte> more = stackalloc byte[2];
            stream.ReadExactly(more);
            headerLength = prefix[8] | prefix[9] << 8 | more[0] << 16 | more[1] << 24;
            headerStart = 12;
        }
        else
        {
            throw Bad(path, $"format version {major} is not one this reader knows (1 to 3)");
        }

        if (headerLength <= 0 || headerLength > 1 << 20)
        {
            throw Bad(path, $"its header claims {headerLength} bytes");
        }

        byte[] header = new byte[headerLength];
        stream.ReadExactly(header);
        string text = System.Text.Encoding.Latin1.GetString(header);
        string descr = Field(text, "descr", path);
        string order = Field(text, "fortran_order", path);
        string shape = Field(text, "shape", path);
        if (descr is not "'<f4'" and not "'float32'")
        {
            throw Bad(path, $"its dtype is {descr}; batch input must be little-endian float32 ('<f4')");
        }

        if (order != "False")
        {
            throw Bad(path, "it is in Fortran order; write it in C order (numpy.ascontiguousarray)");
        }

        string[] dims = shape.Trim('(', ')').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (dims.Length != 2 || !long.TryParse(dims[0], out long rows) || !int.TryParse(dims[1], out int columns) || columns < 1)
        {
            throw Bad(path, $"its shape is {shape}; batch input must be one 2-D tensor (rows, features)");
        }

        return new NpySource(stream, headerStart + headerLength, rows, columns);
    }

    public override RecordStatus Next(out ReadOnlySpan<byte> record, out long line)
    {
        line = 0;
        record = default;
        if (_nextRow >= Rows)
        {
            return RecordStatus.End;
        }

        int read = _stream.ReadAtLeast(_row, _row.Length, throwOnEndOfStream: false);
        _nextRow++;
        if (read < _row.Length)
        {
            _nextRow = Rows;
            return RecordStatus.Truncated;
        }

        record = _row;
        return RecordStatus.Record;
    }

    /// <summary>
    /// Reads up to <c>destination.Length / row size</c> whole rows straight into <paramref name="destination"/>, with no
    /// copy in between; the number read. <paramref name="truncated"/> tells that the file ended inside the row after them.
    /// </summary>
    public int ReadRows(Span<byte> destination, out bool truncated)
    {
        int rowBytes = _row.Length;
        int want = (int)Math.Min(destination.Length / rowBytes, Rows - _nextRow);
        int read = _stream.ReadAtLeast(destination[..(want * rowBytes)], want * rowBytes, throwOnEndOfStream: false);
        int rows = read / rowBytes;
        _nextRow += rows;
        truncated = rows < want;
        if (truncated)
        {
            _nextRow = Rows;
        }

        return rows;
    }

    public override void Seek(long position, long line)
    {
        _nextRow = (position - _dataOffset) / _row.Length;
        _stream.Position = position;
    }

    public override void Dispose() => _stream.Dispose();

    private static string Field(string header, string key, string path)
    {
        int at = header.IndexOf($"'{key}':", StringComparison.Ordinal);
        if (at < 0)
        {
            throw Bad(path, $"its header has no '{key}'");
        }

        int start = at + key.Length + 3;
        int end = key == "shape" ? header.IndexOf(')', start) + 1 : header.IndexOfAny([',', '}'], start);
        if (end <= 0)
        {
            throw Bad(path, $"its header's '{key}' is unreadable");
        }

        return header[start..end].Trim();
    }

    private static BatchException Bad(string path, string reason) =>
        new(BatchErrorKind.Input, $"'{path}' is not a .npy file this job can read: {reason}.");
}
