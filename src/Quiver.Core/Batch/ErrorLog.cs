using System.Buffers;
using System.Text.Json;

namespace Quiver.Core.Batch;

/// <summary>
/// The error file: one JSON object per rejected row, {"row":5,"line":7,"reason":"…"} ("line" is absent for .npy),
/// in input order. Flushed with the output at every checkpoint.
/// </summary>
internal sealed class ErrorLog(FileStream file) : IDisposable
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    /// <summary>Bytes in the file once everything written so far is flushed.</summary>
    public long Length => file.Position + _buffer.WrittenCount;

    public void Write(long row, long line, string reason)
    {
        using (var json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNumber("row", row);
            if (line > 0)
            {
                json.WriteNumber("line", line);
            }

            json.WriteString("reason", reason);
            json.WriteEndObject();
        }

        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        if (_buffer.WrittenCount > 64 * 1024)
        {
            Drain();
        }
    }

    public void Flush(bool toDisk)
    {
        Drain();
        file.Flush(toDisk);
    }

    public void Dispose() => file.Dispose();

    private void Drain()
    {
        file.Write(_buffer.WrittenSpan);
        _buffer.ResetWrittenCount();
    }
}
