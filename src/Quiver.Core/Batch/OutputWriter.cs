using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Quiver.Core.Text;
using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>
/// Appends result rows to the output file: each row carries its 0-based input row index first ("row"), so rows
/// can be joined back to the input, failed rows leave visible gaps, and shard parts merge in input order.
/// Buffered: bytes reach the file on <see cref="Flush"/> or when 256 KiB are pending.
/// </summary>
internal abstract class OutputWriter : IDisposable
{
    // 256 KiB: a few hundred rows of a wide output; one write system call per buffer.
    private const int FlushBytes = 256 * 1024;

    private readonly FileStream _file;

    protected OutputWriter(FileStream file, IReadOnlyList<TensorInfo> outputs)
    {
        _file = file;
        Outputs = outputs;
    }

    protected ArrayBufferWriter<byte> Buffer { get; } = new(FlushBytes + 64 * 1024);

    protected IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>Bytes in the file once everything written so far is flushed.</summary>
    public long Length => _file.Position + Buffer.WrittenCount;

    public static OutputWriter Create(OutputFormat format, FileStream file, IReadOnlyList<TensorInfo> outputs, char delimiter) =>
        format == OutputFormat.Csv ? new CsvOutputWriter(file, outputs, delimiter) : new JsonLinesOutputWriter(file, outputs);

    /// <summary>The CSV header for outputs of these widths, or null for formats without one.</summary>
    public virtual string? Header(int[] widths) => null;

    /// <summary>Writes the header line (once, at the start of a new file).</summary>
    public void WriteHeader(string header)
    {
        Encoding.UTF8.GetBytes(header + "\n", Buffer);
    }

    /// <summary>Writes rows 0 … count-1 of the outputs, labelled with their input row indexes.</summary>
    public void WriteRows(ReadOnlySpan<long> rows, TensorValue[] outputs, int[] widths)
    {
        string[]?[] strings = new string[outputs.Length][];
        for (int o = 0; o < outputs.Length; o++)
        {
            if (outputs[o].ElementType == TensorElementType.String)
            {
                strings[o] = outputs[o].GetStrings();
            }
        }

        for (int r = 0; r < rows.Length; r++)
        {
            WriteRow(rows[r], r, outputs, widths, strings);
            if (Buffer.WrittenCount >= FlushBytes)
            {
                Drain();
            }
        }
    }

    /// <summary>Writes pending bytes; with <paramref name="toDisk"/>, also asks the OS to persist them (fsync).</summary>
    public void Flush(bool toDisk)
    {
        Drain();
        _file.Flush(toDisk);
    }

    public void Dispose() => _file.Dispose();

    protected abstract void WriteRow(long row, int index, TensorValue[] outputs, int[] widths, string[]?[] strings);

    protected void Ascii(string text)
    {
        Span<byte> span = Buffer.GetSpan(text.Length);
        int n = Encoding.ASCII.GetBytes(text, span);
        Buffer.Advance(n);
    }

    protected void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Buffer.GetSpan(bytes.Length));
        Buffer.Advance(bytes.Length);
    }

    protected void Byte(byte value)
    {
        Buffer.GetSpan(1)[0] = value;
        Buffer.Advance(1);
    }

    protected void Number<T>(T value) where T : IUtf8SpanFormattable
    {
        Span<byte> span = Buffer.GetSpan(32);
        value.TryFormat(span, out int written, default, CultureInfo.InvariantCulture);
        Buffer.Advance(written);
    }

    /// <summary>Writes element <paramref name="index"/>; non-finite floats as NaN/Infinity/-Infinity, quoted in JSON.</summary>
    protected void Element(TensorValue value, string[]? strings, long index, bool json)
    {
        switch (value.ElementType)
        {
            case TensorElementType.Float:
                Single(value.AsSpan<float>()[(int)index], json);
                break;
            case TensorElementType.Double:
                Double(value.AsSpan<double>()[(int)index], json);
                break;
            case TensorElementType.Float16:
                Single((float)value.AsSpan<Half>()[(int)index], json);
                break;
            case TensorElementType.Int8:
                Number(value.AsSpan<sbyte>()[(int)index]);
                break;
            case TensorElementType.UInt8:
                Number(value.AsSpan<byte>()[(int)index]);
                break;
            case TensorElementType.Int16:
                Number(value.AsSpan<short>()[(int)index]);
                break;
            case TensorElementType.UInt16:
                Number(value.AsSpan<ushort>()[(int)index]);
                break;
            case TensorElementType.Int32:
                Number(value.AsSpan<int>()[(int)index]);
                break;
            case TensorElementType.UInt32:
                Number(value.AsSpan<uint>()[(int)index]);
                break;
            case TensorElementType.Int64:
                Number(value.AsSpan<long>()[(int)index]);
                break;
            case TensorElementType.UInt64:
                Number(value.AsSpan<ulong>()[(int)index]);
                break;
            case TensorElementType.Bool:
                Raw(value.AsSpan<byte>()[(int)index] != 0 ? "true"u8 : "false"u8);
                break;
            case TensorElementType.String:
                Text(strings![index]);
                break;
            default:
                throw new BatchException(BatchErrorKind.Model, $"output '{value.ElementType}' values cannot be written to a file.");
        }
    }

    protected abstract void Text(string value);

    // The same text as .NET's default format (the shortest that reads back to the same value), in half the time:
    // float outputs are most of what a batch job writes.
    private void Single(float value, bool json)
    {
        if (float.IsFinite(value))
        {
            Buffer.Advance(ShortestFloat.Format(value, Buffer.GetSpan(ShortestFloat.MaxLength)));
            return;
        }

        NonFinite(value, json);
    }

    private void Double(double value, bool json)
    {
        if (double.IsFinite(value))
        {
            // .NET's default float format is the shortest text that reads back to the same value.
            Number(value);
            return;
        }

        NonFinite(value, json);
    }

    private void NonFinite<T>(T value, bool json) where T : IFloatingPointIeee754<T>
    {
        string text = T.IsNaN(value) ? "NaN" : T.IsPositive(value) ? "Infinity" : "-Infinity";
        Ascii(json ? $"\"{text}\"" : text);
    }

    private void Drain()
    {
        _file.Write(Buffer.WrittenSpan);
        Buffer.ResetWrittenCount();
    }
}

/// <summary>{"row":12,"probabilities":[0.1,0.2,0.7]}: an output with one value per row (shape [batch]) is a bare value.</summary>
internal sealed class JsonLinesOutputWriter(FileStream file, IReadOnlyList<TensorInfo> outputs) : OutputWriter(file, outputs)
{
    private readonly byte[][] _keys = outputs.Select(o => Encoding.UTF8.GetBytes($",{JsonSerializer.Serialize(o.Name)}:")).ToArray();

    protected override void WriteRow(long row, int index, TensorValue[] outputs, int[] widths, string[]?[] strings)
    {
        Raw("{\"row\":"u8);
        Number(row);
        for (int o = 0; o < outputs.Length; o++)
        {
            Raw(_keys[o]);
            bool scalar = outputs[o].Shape.Length == 1;
            if (!scalar)
            {
                Byte((byte)'[');
            }

            long start = (long)index * widths[o];
            for (int e = 0; e < widths[o]; e++)
            {
                if (e > 0)
                {
                    Byte((byte)',');
                }

                Element(outputs[o], strings[o], start + e, json: true);
            }

            if (!scalar)
            {
                Byte((byte)']');
            }
        }

        Raw("}\n"u8);
    }

    protected override void Text(string value) => Raw(JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).EncodedUtf8Bytes.Quoted());
}

/// <summary>row,probabilities_0,probabilities_1,…: an output with one value per row is one column named after it.</summary>
internal sealed class CsvOutputWriter(FileStream file, IReadOnlyList<TensorInfo> outputs, char delimiter) : OutputWriter(file, outputs)
{
    private readonly byte _delimiter = (byte)delimiter;

    public override string? Header(int[] widths)
    {
        var columns = new List<string> { "row" };
        for (int o = 0; o < Outputs.Count; o++)
        {
            string name = Outputs[o].Name;
            if (Outputs[o].Shape.Length == 1)
            {
                columns.Add(Quote(name));
            }
            else
            {
                for (int e = 0; e < widths[o]; e++)
                {
                    columns.Add(Quote($"{name}_{e}"));
                }
            }
        }

        return string.Join(((char)_delimiter).ToString(), columns);
    }

    protected override void WriteRow(long row, int index, TensorValue[] outputs, int[] widths, string[]?[] strings)
    {
        Number(row);
        for (int o = 0; o < outputs.Length; o++)
        {
            long start = (long)index * widths[o];
            for (int e = 0; e < widths[o]; e++)
            {
                Byte(_delimiter);
                Element(outputs[o], strings[o], start + e, json: false);
            }
        }

        Byte((byte)'\n');
    }

    protected override void Text(string value) => Raw(Encoding.UTF8.GetBytes(Quote(value)));

    private string Quote(string value) =>
        value.AsSpan().IndexOfAny([(char)_delimiter, '"', '\n', '\r']) < 0 ? value : $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";
}

internal static class Utf8Quoting
{
    public static byte[] Quoted(this ReadOnlySpan<byte> bytes)
    {
        byte[] result = new byte[bytes.Length + 2];
        result[0] = (byte)'"';
        bytes.CopyTo(result.AsSpan(1));
        result[^1] = (byte)'"';
        return result;
    }
}
