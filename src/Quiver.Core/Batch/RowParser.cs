using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>How a value was written in the file, which decides what it may fill.</summary>
internal enum CellKind { Text, JsonNumber, JsonString, JsonBool, JsonNull, JsonNested }

/// <summary>
/// Turns the raw records of a chunk into typed input values, one row per slot, in parallel when asked. A row that
/// cannot be parsed gets its reason in <see cref="RecordChunk.Errors"/>; parsing never throws for bad data.
/// </summary>
internal abstract class RowParser(InputLayout layout)
{
    // For the one-thread path: one reader thread parses every chunk.
    private readonly RowScratch _scratch = new(layout.Columns.Count);

    protected InputLayout Layout { get; } = layout;

    /// <summary>The model's sensitive inputs, whose values an error reason shows only as pseudonyms; null when none.</summary>
    public Security.SensitiveValues? Privacy { get; init; }

    public static RowParser Create(InputLayout layout, InputFormat format, char delimiter, Security.SensitiveValues? privacy = null) => format switch
    {
        InputFormat.Csv => new CsvRowParser(layout, delimiter) { Privacy = privacy },
        InputFormat.JsonLines => new JsonRowParser(layout) { Privacy = privacy },
        _ => new NpyRowParser(layout) { Privacy = privacy },
    };

    /// <summary>Parses every record of the chunk (then <see cref="RecordChunk.Compact"/> removes the failed ones).</summary>
    public void Parse(RecordChunk chunk, int threads)
    {
        if (threads <= 1 || chunk.Count < 64)
        {
            for (int i = 0; i < chunk.Count; i++)
            {
                ParseOne(chunk, i, _scratch);
            }
        }
        else
        {
            // Rows of a chunk fill disjoint slots, so threads need no locks; 64 rows per range keeps scheduling cheap.
            var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
            Parallel.For(0, (chunk.Count + 63) / 64, options, () => new RowScratch(Layout.Columns.Count), (range, _, scratch) =>
            {
                int end = Math.Min(chunk.Count, (range + 1) * 64);
                for (int i = range * 64; i < end; i++)
                {
                    ParseOne(chunk, i, scratch);
                }

                return scratch;
            }, _ => { });
        }
    }

    private void ParseOne(RecordChunk chunk, int slot, RowScratch scratch)
    {
        if (chunk.Errors[slot] is null)
        {
            if (++scratch.Stamp == 0)
            {
                // Wrapped after 2³² rows: forget every column seen, or an old stamp could match again.
                Array.Clear(scratch.Seen);
                scratch.Stamp = 1;
            }

            chunk.Errors[slot] = ParseRow(chunk.Record(slot), chunk.Inputs, slot, scratch);
        }
    }

    /// <summary>Fills slot <paramref name="slot"/> of every input from one record; returns why it cannot, or null.</summary>
    protected abstract string? ParseRow(ReadOnlySpan<byte> record, TensorBuffer[] inputs, int slot, RowScratch scratch);

    /// <summary>Stores one value at a feature position of an input row; returns why it cannot, or null.</summary>
    protected string? Store(TensorBuffer input, int slot, int feature, ReadOnlySpan<byte> utf8, CellKind kind, int column)
    {
        TensorElementType type = input.Binding.Type;
        int index = slot * input.Binding.Width + feature;
        if (kind is CellKind.JsonNull or CellKind.JsonNested)
        {
            return $"column '{Layout.Columns[column]}': {(kind == CellKind.JsonNull ? "null" : "an object or array")} where a value of input '{input.Binding.Name}' ({TypeName(type)}) belongs";
        }

        if (type == TensorElementType.String)
        {
            input.Strings![index] = Encoding.UTF8.GetString(utf8);
            return null;
        }

        if (utf8.IsEmpty || utf8.IndexOfAnyExcept((byte)' ') < 0)
        {
            return $"column '{Layout.Columns[column]}' is empty";
        }

        if (kind == CellKind.JsonString || (kind == CellKind.JsonBool) != (type == TensorElementType.Bool) && kind != CellKind.Text)
        {
            return $"column '{Layout.Columns[column]}': {Quote(utf8, kind, input.Binding.Name)} is not {Article(type)} (input '{input.Binding.Name}' is {TypeName(type)}{NotShown(input.Binding.Name)})";
        }

        Span<byte> data = input.Data.AsSpan(index * input.ElementSize, input.ElementSize);
        bool ok;
        switch (type)
        {
            case TensorElementType.Float:
                ok = float.TryParse(utf8, NumberStyles.Float, CultureInfo.InvariantCulture, out float f);
                BinaryPrimitives.WriteSingleLittleEndian(data, f);
                break;
            case TensorElementType.Double:
                ok = double.TryParse(utf8, NumberStyles.Float, CultureInfo.InvariantCulture, out double d);
                BinaryPrimitives.WriteDoubleLittleEndian(data, d);
                break;
            case TensorElementType.Int32:
                ok = int.TryParse(utf8, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i32);
                BinaryPrimitives.WriteInt32LittleEndian(data, i32);
                break;
            case TensorElementType.Int64:
                ok = long.TryParse(utf8, NumberStyles.Integer, CultureInfo.InvariantCulture, out long i64);
                BinaryPrimitives.WriteInt64LittleEndian(data, i64);
                break;
            default:
                ok = TryBool(utf8, out bool b);
                data[0] = b ? (byte)1 : (byte)0;
                break;
        }

        return ok ? null : $"column '{Layout.Columns[column]}': {Quote(utf8, kind, input.Binding.Name)} is not {Article(type)} (input '{input.Binding.Name}' is {TypeName(type)}{NotShown(input.Binding.Name)})";
    }

    /// <summary>Names the columns a row left without a value, or null when every mapped column was seen.</summary>
    protected string? Missing(RowScratch scratch)
    {
        List<string>? missing = null;
        foreach (InputBinding binding in Layout.Bindings)
        {
            foreach (int column in binding.Columns)
            {
                if (scratch.Seen[column] != scratch.Stamp)
                {
                    (missing ??= []).Add(Layout.Columns[column]);
                }
            }
        }

        return missing is null ? null
            : $"missing {(missing.Count == 1 ? "column" : "columns")} {string.Join(", ", missing.Take(5).Select(m => $"'{m}'"))}{(missing.Count > 5 ? $" and {missing.Count - 5} more" : "")}";
    }

    private static bool TryBool(ReadOnlySpan<byte> utf8, out bool value)
    {
        utf8 = utf8.Trim((byte)' ');
        if (utf8.SequenceEqual("1"u8) || Ascii.EqualsIgnoreCase(utf8, "true"u8))
        {
            value = true;
            return true;
        }

        value = false;
        return utf8.SequenceEqual("0"u8) || Ascii.EqualsIgnoreCase(utf8, "false"u8);
    }

    private string Quote(ReadOnlySpan<byte> utf8, CellKind kind, string input)
    {
        if (Privacy?.IsSensitiveInput(input) == true)
        {
            // The error file is stored: a sensitive value appears only as its pseudonym, which still lets rows be matched,
            // or not at all without the key.
            return Privacy.Pseudonymizer is { } pseudonymizer ? $"the value {pseudonymizer.Pseudonym(utf8)}" : "the value";
        }

        string text = Encoding.UTF8.GetString(utf8.Length > 40 ? utf8[..40] : utf8) + (utf8.Length > 40 ? "…" : "");
        return kind == CellKind.JsonString ? $"the string \"{text}\"" : $"'{text}'";
    }

    // Said where a sensitive value is left out because there is no key to pseudonymize it with.
    private string NotShown(string input) =>
        Privacy is { Pseudonymizer: null } && Privacy.IsSensitiveInput(input) ? $"; the value is not shown: input '{input}' is sensitive" : "";

    private static string Article(TensorElementType type) => type switch
    {
        TensorElementType.Bool => "a boolean",
        TensorElementType.Int32 or TensorElementType.Int64 => "an integer",
        _ => "a number",
    };

    private static string TypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "FP32",
        TensorElementType.Double => "FP64",
        TensorElementType.Int32 => "INT32",
        TensorElementType.Int64 => "INT64",
        TensorElementType.Bool => "BOOL",
        _ => "BYTES",
    };
}

/// <summary>Per-thread scratch: which columns a row has set (by stamp, so nothing is cleared per row) and an unquoting buffer.</summary>
internal sealed class RowScratch(int columns)
{
    public int[] Seen { get; } = new int[columns];

    public int Stamp { get; set; }

    public byte[] Text { get; set; } = new byte[256];
}

/// <summary>RFC 4180 fields: quoted fields may hold the delimiter, line breaks and doubled quotes.</summary>
internal sealed class CsvRowParser(InputLayout layout, char delimiter) : RowParser(layout)
{
    private readonly byte _delimiter = (byte)delimiter;

    /// <summary>Splits a header or data record into decoded fields; null with a reason when the quoting is broken.</summary>
    public static List<string>? SplitFields(ReadOnlySpan<byte> record, char delimiter, out string? error)
    {
        var fields = new List<string>();
        var scratch = new RowScratch(0);
        int position = 0;
        while (true)
        {
            error = NextField(record, ref position, (byte)delimiter, scratch, out ReadOnlySpan<byte> field, out bool end);
            if (error is not null)
            {
                return null;
            }

            fields.Add(Encoding.UTF8.GetString(field));
            if (end)
            {
                return fields;
            }
        }
    }

    protected override string? ParseRow(ReadOnlySpan<byte> record, TensorBuffer[] inputs, int slot, RowScratch scratch)
    {
        ColumnTarget[] targets = Layout.Targets;
        int position = 0;
        int column = 0;
        string? firstError = null;
        while (true)
        {
            string? error = NextField(record, ref position, _delimiter, scratch, out ReadOnlySpan<byte> field, out bool end);
            if (error is not null)
            {
                return error;
            }

            if (column < targets.Length && targets[column].Input >= 0 && firstError is null)
            {
                ColumnTarget target = targets[column];
                firstError = Store(inputs[target.Input], slot, target.Feature, field, CellKind.Text, column);
            }

            column++;
            if (end)
            {
                break;
            }
        }

        // The field count is checked first: a ragged row usually means a stray delimiter, which also shifts the cells.
        return column != targets.Length
            ? $"ragged row: {column} field{(column == 1 ? "" : "s")}, the header has {targets.Length}"
            : firstError;
    }

    private static string? NextField(ReadOnlySpan<byte> record, ref int position, byte delimiter, RowScratch scratch,
        out ReadOnlySpan<byte> field, out bool end)
    {
        ReadOnlySpan<byte> rest = record[position..];
        if (rest.IsEmpty || rest[0] != '"')
        {
            int at = rest.IndexOf(delimiter);
            field = at < 0 ? rest : rest[..at];
            end = at < 0;
            position += at < 0 ? rest.Length : at + 1;
            return null;
        }

        // Quoted: copy into scratch, turning "" into ".
        int length = 0;
        int i = 1;
        while (true)
        {
            int quote = rest[i..].IndexOf((byte)'"');
            if (quote < 0)
            {
                field = default;
                end = true;
                return "a quoted field has no closing quote";
            }

            Append(scratch, rest.Slice(i, quote), ref length);
            i += quote + 1;
            if (i < rest.Length && rest[i] == '"')
            {
                Append(scratch, "\""u8, ref length);
                i++;
                continue;
            }

            break;
        }

        field = scratch.Text.AsSpan(0, length);
        if (i == rest.Length)
        {
            end = true;
            position += i;
            return null;
        }

        if (rest[i] != delimiter)
        {
            end = true;
            return "text after a closing quote (a quote inside a field must be doubled)";
        }

        end = false;
        position += i + 1;
        return null;
    }

    private static void Append(RowScratch scratch, ReadOnlySpan<byte> bytes, ref int length)
    {
        if (scratch.Text.Length < length + bytes.Length)
        {
            byte[] larger = new byte[Math.Max(scratch.Text.Length * 2, length + bytes.Length)];
            scratch.Text.AsSpan(0, length).CopyTo(larger);
            scratch.Text = larger;
        }

        bytes.CopyTo(scratch.Text.AsSpan(length));
        length += bytes.Length;
    }
}

/// <summary>One JSON object (keys are columns) or array (positions are columns) per line.</summary>
internal sealed class JsonRowParser(InputLayout layout) : RowParser(layout)
{
    protected override string? ParseRow(ReadOnlySpan<byte> record, TensorBuffer[] inputs, int slot, RowScratch scratch)
    {
        try
        {
            var reader = new Utf8JsonReader(record, new JsonReaderOptions { AllowTrailingCommas = false });
            reader.Read();
            string? error = reader.TokenType switch
            {
                JsonTokenType.StartObject => ParseObject(ref reader, inputs, slot, scratch),
                JsonTokenType.StartArray => ParseArray(ref reader, inputs, slot, scratch),
                _ => "the line is not a JSON object or array",
            };
            if (error is null && reader.Read())
            {
                return "more than one JSON value on the line";
            }

            return error ?? Missing(scratch);
        }
        catch (JsonException e) when (Privacy?.Any == true)
        {
            // The reader's message quotes the offending character, which may be part of a sensitive value.
            return $"not valid JSON at byte {e.BytePositionInLine} of the line";
        }
        catch (JsonException e)
        {
            return $"not valid JSON: {e.Message}";
        }
    }

    private string? ParseObject(ref Utf8JsonReader reader, TensorBuffer[] inputs, int slot, RowScratch scratch)
    {
        int expected = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            int column = FindColumn(ref reader, expected);
            reader.Read();
            if (column < 0 || Layout.Targets[column].Input < 0)
            {
                reader.Skip();
                continue;
            }

            expected = column + 1;
            if (scratch.Seen[column] == scratch.Stamp)
            {
                return $"column '{Layout.Columns[column]}' appears twice";
            }

            scratch.Seen[column] = scratch.Stamp;
            string? error = StoreValue(ref reader, inputs, slot, column);
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }

    private string? ParseArray(ref Utf8JsonReader reader, TensorBuffer[] inputs, int slot, RowScratch scratch)
    {
        int column = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (column < Layout.Columns.Count && Layout.Targets[column].Input >= 0)
            {
                scratch.Seen[column] = scratch.Stamp;
                string? error = StoreValue(ref reader, inputs, slot, column);
                if (error is not null)
                {
                    return error;
                }
            }
            else
            {
                reader.Skip();
            }

            column++;
        }

        return column != Layout.Columns.Count ? $"ragged row: {column} values, the first row has {Layout.Columns.Count}" : null;
    }

    private string? StoreValue(ref Utf8JsonReader reader, TensorBuffer[] inputs, int slot, int column)
    {
        ColumnTarget target = Layout.Targets[column];
        TensorBuffer input = inputs[target.Input];
        if (!input.Binding.ArrayColumn)
        {
            return StoreScalar(ref reader, input, slot, target.Feature, column);
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return $"column '{Layout.Columns[column]}' must be an array of {input.Binding.Width} values for input '{input.Binding.Name}'";
        }

        // A nested array (e.g. [[1,2],[3,4]] for a [-1,2,2] input) is read flat, in row-major order.
        int feature = 0;
        int depth = 1;
        while (depth > 0 && reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartArray:
                    depth++;
                    break;
                case JsonTokenType.EndArray:
                    depth--;
                    break;
                default:
                    if (feature < input.Binding.Width)
                    {
                        string? error = StoreScalar(ref reader, input, slot, feature, column);
                        if (error is not null)
                        {
                            return error;
                        }
                    }
                    else if (reader.TokenType is JsonTokenType.StartObject)
                    {
                        reader.Skip();
                    }

                    feature++;
                    break;
            }
        }

        return feature == input.Binding.Width ? null
            : $"column '{Layout.Columns[column]}' has {feature} values, input '{input.Binding.Name}' takes {input.Binding.Width}";
    }

    private string? StoreScalar(ref Utf8JsonReader reader, TensorBuffer input, int slot, int feature, int column)
    {
        CellKind kind = reader.TokenType switch
        {
            JsonTokenType.Number => CellKind.JsonNumber,
            JsonTokenType.String => CellKind.JsonString,
            JsonTokenType.True or JsonTokenType.False => CellKind.JsonBool,
            JsonTokenType.Null => CellKind.JsonNull,
            _ => CellKind.JsonNested,
        };
        if (kind == CellKind.JsonNested)
        {
            reader.Skip();
            return Store(input, slot, feature, default, kind, column);
        }

        if (kind == CellKind.JsonString && (reader.ValueIsEscaped || input.Binding.Type == TensorElementType.String))
        {
            return Store(input, slot, feature, Encoding.UTF8.GetBytes(reader.GetString()!), kind, column);
        }

        return Store(input, slot, feature, reader.ValueSpan, kind, column);
    }

    // Keys usually come in the same order on every line: try the next expected column before a dictionary lookup.
    private int FindColumn(ref Utf8JsonReader reader, int expected)
    {
        if (!reader.ValueIsEscaped && expected < Layout.Columns.Count && Layout.ColumnNameBytes[expected].AsSpan().SequenceEqual(reader.ValueSpan))
        {
            return expected;
        }

        return Layout.ColumnIndex.GetValueOrDefault(reader.GetString()!, -1);
    }
}

/// <summary>.npy rows: little-endian float32 values, one per column.</summary>
internal sealed class NpyRowParser(InputLayout layout) : RowParser(layout)
{
    /// <summary>Whether a row's bytes are the one input's row as they stand: every column, in order, as float32.</summary>
    public bool Direct { get; } = BitConverter.IsLittleEndian && layout.Bindings.Length == 1 && layout.Bindings[0].Type == TensorElementType.Float
        && layout.Bindings[0].Columns.Select((c, i) => c == i).All(x => x) && layout.Bindings[0].Width == layout.Columns.Count;

    protected override string? ParseRow(ReadOnlySpan<byte> record, TensorBuffer[] inputs, int slot, RowScratch scratch)
    {
        ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(record);
        if (Direct)
        {
            values.CopyTo(inputs[0].FloatRow(slot));
            return null;
        }

        Span<byte> text = stackalloc byte[32];
        for (int column = 0; column < values.Length; column++)
        {
            ColumnTarget target = Layout.Targets[column];
            if (target.Input < 0)
            {
                continue;
            }

            values[column].TryFormat(text, out int written, "R", CultureInfo.InvariantCulture);
            string? error = Store(inputs[target.Input], slot, target.Feature, text[..written], CellKind.Text, column);
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }
}
