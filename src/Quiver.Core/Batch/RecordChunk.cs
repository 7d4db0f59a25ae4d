using System.Runtime.InteropServices;
using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>The typed values of one model input for the rows of a chunk.</summary>
internal sealed class TensorBuffer
{
    public TensorBuffer(InputBinding binding, int rows)
    {
        Binding = binding;
        ElementSize = binding.Type switch
        {
            TensorElementType.Float or TensorElementType.Int32 => 4,
            TensorElementType.Double or TensorElementType.Int64 => 8,
            TensorElementType.Bool => 1,
            _ => 0,
        };
        if (binding.Type == TensorElementType.String)
        {
            Strings = new string[rows * binding.Width];
            Data = [];
        }
        else
        {
            Data = new byte[rows * binding.Width * ElementSize];
        }
    }

    public InputBinding Binding { get; }

    public int ElementSize { get; }

    public byte[] Data { get; }

    public string[]? Strings { get; }

    /// <summary>Moves a row's values to a lower slot, closing the gap a failed row left.</summary>
    public void MoveRow(int from, int to)
    {
        int width = Binding.Width;
        if (Strings is not null)
        {
            Array.Copy(Strings, from * width, Strings, to * width, width);
        }
        else
        {
            int bytes = width * ElementSize;
            Buffer.BlockCopy(Data, from * bytes, Data, to * bytes, bytes);
        }
    }

    /// <summary><paramref name="rows"/> rows from slot <paramref name="start"/> as a tensor; numeric data is not copied.</summary>
    public NamedTensor ToTensor(int start, int rows)
    {
        long[] shape = [rows, .. Binding.RowShape];
        int width = Binding.Width;
        TensorValue value = Strings is not null
            ? TensorValue.FromStrings(shape, Strings.AsSpan(start * width, rows * width).ToArray())
            : TensorValue.FromBytes(Binding.Type, shape, Data.AsMemory(start * width * ElementSize, rows * width * ElementSize));
        return new NamedTensor(Binding.Name, value);
    }

    /// <summary>Sets a float element (the .npy fast path).</summary>
    public Span<float> FloatRow(int slot) => MemoryMarshal.Cast<byte, float>(Data.AsSpan(slot * Binding.Width * 4, Binding.Width * 4));
}

/// <summary>
/// Up to a few batches of this shard's records: their raw bytes as split from the file, then, after parsing, their
/// values in <see cref="Inputs"/> with failed rows removed. Chunks are reused, so the steady state allocates nothing
/// per row.
/// </summary>
internal sealed class RecordChunk
{
    private byte[] _bytes = new byte[64 * 1024];
    private int _used;

    /// <param name="layout">The model inputs the rows are parsed into.</param>
    /// <param name="runs">Model runs per chunk.</param>
    /// <param name="batchSize">Rows per model run.</param>
    public RecordChunk(InputLayout layout, int runs, int batchSize)
    {
        int capacity = runs * batchSize;
        Capacity = capacity;
        BatchSize = batchSize;
        Inputs = layout.Bindings.Select(b => new TensorBuffer(b, capacity)).ToArray();
        Starts = new int[capacity];
        Lengths = new int[capacity];
        Rows = new long[capacity];
        Lines = new long[capacity];
        Errors = new string?[capacity];
        GoodRows = new long[capacity];
        OutputMemory = Enumerable.Range(0, runs).Select(_ => new OutputBuffers().Memory).ToArray();
    }

    /// <summary>
    /// Memory for the model's outputs of each of this chunk's runs, reused with the chunk: the outputs live until their
    /// rows are written, and the chunk is refilled only after that.
    /// </summary>
    public OutputMemory[] OutputMemory { get; }

    public int Capacity { get; }

    /// <summary>Rows per model run: the chunk's good rows go to the model in runs of this many.</summary>
    public int BatchSize { get; }

    /// <summary>Records in the chunk, failed ones included.</summary>
    public int Count { get; private set; }

    public int[] Starts { get; }

    public int[] Lengths { get; }

    /// <summary>0-based row index of each record in the whole input.</summary>
    public long[] Rows { get; }

    /// <summary>1-based line each record starts on (0 for .npy).</summary>
    public long[] Lines { get; }

    /// <summary>Why a record failed, or null.</summary>
    public string?[] Errors { get; }

    public TensorBuffer[] Inputs { get; }

    /// <summary>After <see cref="Compact"/>: how many rows parsed, and their row indexes.</summary>
    public int Good { get; private set; }

    public long[] GoodRows { get; }

    /// <summary>Where the input continues after this chunk: byte offset, row index, line.</summary>
    public long EndPosition { get; set; }

    public long NextRow { get; set; }

    public long NextLine { get; set; }

    /// <summary>Whether the input ended with this chunk.</summary>
    public bool Last { get; set; }

    public ReadOnlySpan<byte> Record(int i) => _bytes.AsSpan(Starts[i], Lengths[i]);

    public void Clear()
    {
        Count = 0;
        _used = 0;
        Good = 0;
        Last = false;
    }

    public void Add(ReadOnlySpan<byte> record, long row, long line, string? error)
    {
        if (_bytes.Length - _used < record.Length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + record.Length));
        }

        record.CopyTo(_bytes.AsSpan(_used));
        Starts[Count] = _used;
        Lengths[Count] = record.Length;
        Rows[Count] = row;
        Lines[Count] = line;
        Errors[Count] = error;
        _used += record.Length;
        Count++;
    }

    /// <summary>Moves parsed rows together so the first <see cref="Good"/> slots hold them in input order.</summary>
    public void Compact()
    {
        int good = 0;
        for (int i = 0; i < Count; i++)
        {
            if (Errors[i] is not null)
            {
                continue;
            }

            if (good != i)
            {
                foreach (TensorBuffer input in Inputs)
                {
                    input.MoveRow(i, good);
                }
            }

            GoodRows[good++] = Rows[i];
        }

        Good = good;
    }
}

/// <summary>One model run's output buffers, one per output, grown when a run needs more and otherwise reused.</summary>
internal sealed class OutputBuffers
{
    private byte[][] _outputs = [];

    public OutputBuffers() => Memory = Slice;

    public OutputMemory Memory { get; }

    private Memory<byte> Slice(int output, int bytes)
    {
        if (_outputs.Length <= output)
        {
            Array.Resize(ref _outputs, output + 1);
        }

        if (_outputs[output] is not { } buffer || buffer.Length < bytes)
        {
            _outputs[output] = buffer = new byte[bytes];
        }

        return buffer.AsMemory(0, bytes);
    }
}
