using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Quiver.Core.Models;
using Quiver.Core.Tensors;

namespace Quiver.Core.Caching;

/// <summary>
/// Outputs of earlier requests, for models that opt in (deterministic models only): the key is the loaded
/// version and a SHA-256 of the canonical request (inputs in name order with datatype, shape and bytes;
/// requested outputs with their parameters); the whole cache is bounded by bytes and evicts the least
/// recently used entry first.
/// </summary>
public sealed class ResponseCache(long capacityBytes)
{
    // What an entry costs besides its tensor bytes (key, tensors, list node), roughly.
    private const int EntryOverhead = 256;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = new();
    private long _bytes;

    /// <summary>The bound on the cached bytes.</summary>
    public long CapacityBytes { get; } = capacityBytes;

    /// <summary>Bytes held now.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>The key of a request to one loaded version of a model.</summary>
    public static string KeyOf(ServedModel model, InferenceRequest request)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> number = stackalloc byte[8];
        hash.AppendData(model.LoadId.ToByteArray());
        foreach (InferenceTensor input in request.Inputs.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            AppendText(hash, input.Name);
            hash.AppendData([(byte)input.DataType]);
            AppendNumber(hash, number, input.Shape.Length);
            foreach (long dim in input.Shape)
            {
                AppendNumber(hash, number, dim);
            }

            if (input.Bytes is { } elements)
            {
                foreach (byte[] element in elements)
                {
                    AppendNumber(hash, number, element.Length);
                    hash.AppendData(element);
                }
            }
            else
            {
                hash.AppendData(input.Data.Span);
            }
        }

        // Which outputs, and how (classification), changes the answer; request parameters such as timeout do not.
        AppendNumber(hash, number, request.Outputs?.Count ?? -1);
        foreach (RequestedOutput output in request.Outputs ?? [])
        {
            AppendText(hash, output.Name);
            foreach (var (key, value) in output.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                AppendText(hash, key);
                AppendText(hash, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "");
            }
        }

        return Convert.ToHexString(hash.GetHashAndReset());
    }

    public bool TryGet(string key, out IReadOnlyList<InferenceTensor> outputs)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out LinkedListNode<Entry>? node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                outputs = node.Value.Outputs;
                return true;
            }
        }

        outputs = [];
        return false;
    }

    /// <summary>Keeps a response's outputs, evicting the least recently used entries to stay within the capacity.</summary>
    public void Add(string key, IReadOnlyList<InferenceTensor> outputs)
    {
        long size = EntryOverhead + key.Length + outputs.Sum(o => o.Data.Length + (o.Bytes?.Sum(b => b.Length + 16) ?? 0));

        // An entry that would take more than a quarter of the cache would only flush everything else.
        if (size > CapacityBytes / 4)
        {
            return;
        }

        lock (_lock)
        {
            if (_entries.ContainsKey(key))
            {
                return;
            }

            while (_bytes + size > CapacityBytes && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _entries.Remove(oldest.Value.Key);
                _bytes -= oldest.Value.Size;
            }

            _entries[key] = _recency.AddFirst(new Entry(key, outputs, size));
            _bytes += size;
        }
    }

    private static void AppendText(IncrementalHash hash, string text)
    {
        Span<byte> length = stackalloc byte[8];
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        AppendNumber(hash, length, utf8.Length);
        hash.AppendData(utf8);
    }

    private static void AppendNumber(IncrementalHash hash, Span<byte> buffer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buffer, value);
        hash.AppendData(buffer);
    }

    private sealed record Entry(string Key, IReadOnlyList<InferenceTensor> Outputs, long Size);
}
