using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Quiver.Core.Models;
using Quiver.Core.Security;
using Quiver.Core.Tensors;

namespace Quiver.Core.Monitoring.Payloads;

/// <summary>
/// Sampled requests and responses of the models that ask for it, one JSON object per line in
/// <c>&lt;directory&gt;/&lt;model&gt;/payloads.jsonl</c>, rotated by size. A line is built on the request path (the
/// request's buffers are reused once it is answered) and written by one background writer, so serving never waits on
/// the disk; when the writer falls behind, lines are dropped and counted rather than queued without bound.
/// </summary>
public sealed class PayloadLog : IAsyncDisposable
{
    /// <summary>The file being written in each model's folder.</summary>
    public const string CurrentFileName = "payloads.jsonl";

    private readonly string _directory;
    private readonly long _maxFileBytes;
    private readonly int _keepFiles;
    private readonly Pseudonymizer _pseudonymizer;
    private readonly Channel<(string Model, byte[] Line)> _lines =
        Channel.CreateBounded<(string, byte[])>(new BoundedChannelOptions(10_000) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Task _writer;
    private long _dropped;

    /// <param name="directory">Where each model's logs go.</param>
    /// <param name="maxFileBytes">A file larger than this is rotated.</param>
    /// <param name="keepFiles">Rotated files kept per model besides the current one; older ones are deleted.</param>
    public PayloadLog(string directory, long maxFileBytes, int keepFiles, Pseudonymizer pseudonymizer)
    {
        _directory = Path.GetFullPath(directory);
        _maxFileBytes = maxFileBytes;
        _keepFiles = keepFiles;
        _pseudonymizer = pseudonymizer;
        _writer = Task.Run(WriteAsync);
    }

    /// <summary>Lines dropped because the writer was behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Logs one answered request if the model logs payloads and the sample picks it.</summary>
    public void Record(ServedModel model, InferenceRequest request, InferenceResponse response)
    {
        if (model.Config.PayloadLogging is not { } config || Random.Shared.NextDouble() >= config.SampleRate)
        {
            return;
        }

        byte[] line = Format(model, request, response, config);
        if (!_lines.Writer.TryWrite((model.Name, line)))
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Writes every line logged so far, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _writer;
    }

    private byte[] Format(ServedModel model, InferenceRequest request, InferenceResponse response, PayloadLoggingConfig config)
    {
        long dataBytes = request.Inputs.Concat(response.Outputs).Sum(DataLength);
        bool truncated = dataBytes > config.MaxPayloadBytes;
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("time", DateTimeOffset.UtcNow);
            w.WriteString("model", model.Name);
            w.WriteString("version", model.Version.ToString(CultureInfo.InvariantCulture));
            w.WriteString("id", request.Id);
            w.WriteBoolean("truncated", truncated);
            WriteParameters(w, request.Parameters, model.Config.SensitiveParameters);
            WriteTensors(w, "inputs", request.Inputs, truncated, model.Config.SensitiveInputs);
            WriteTensors(w, "outputs", response.Outputs, truncated, []);
            w.WriteEndObject();
        }

        byte[] line = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(line);
        line[^1] = (byte)'\n';
        return line;
    }

    // The request's parameters as given; sensitive ones as pseudonyms of their invariant text.
    private void WriteParameters(Utf8JsonWriter w, Parameters parameters, IReadOnlyList<string> sensitive)
    {
        if (parameters.Count == 0)
        {
            return;
        }

        w.WriteStartObject("parameters");
        foreach ((string name, object value) in parameters)
        {
            if (sensitive.Contains(name))
            {
                w.WriteString(name, _pseudonymizer.Pseudonym(Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
                continue;
            }

            switch (value)
            {
                case bool b:
                    w.WriteBoolean(name, b);
                    break;
                case long l:
                    w.WriteNumber(name, l);
                    break;
                case double d:
                    w.WriteNumber(name, d);
                    break;
                default:
                    w.WriteString(name, Convert.ToString(value, CultureInfo.InvariantCulture));
                    break;
            }
        }

        w.WriteEndObject();
    }

    // Data as base64 of the tensor's bytes (little-endian, row-major, as the binary protocol carries them);
    // BYTES tensors as one base64 string per element; sensitive inputs as pseudonyms instead.
    private void WriteTensors(Utf8JsonWriter w, string name, IReadOnlyList<InferenceTensor> tensors, bool truncated, IReadOnlyList<string> sensitive)
    {
        w.WriteStartArray(name);
        foreach (InferenceTensor tensor in tensors)
        {
            w.WriteStartObject();
            w.WriteString("name", tensor.Name);
            w.WriteString("datatype", tensor.DataType.Name());
            w.WriteStartArray("shape");
            foreach (long dim in tensor.Shape)
            {
                w.WriteNumberValue(dim);
            }

            w.WriteEndArray();
            bool pseudonymize = sensitive.Contains(tensor.Name);
            if (tensor.Bytes is { } elements)
            {
                w.WriteStartArray(pseudonymize ? "pseudonyms" : "data_base64");
                foreach (byte[] element in truncated && !pseudonymize ? [] : elements)
                {
                    if (pseudonymize)
                    {
                        w.WriteStringValue(_pseudonymizer.Pseudonym(element));
                    }
                    else
                    {
                        w.WriteBase64StringValue(element);
                    }
                }

                w.WriteEndArray();
            }
            else if (pseudonymize)
            {
                w.WriteString("pseudonym", _pseudonymizer.Pseudonym(tensor.Data.Span));
            }
            else if (!truncated)
            {
                w.WriteBase64String("data_base64", tensor.Data.Span);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static long DataLength(InferenceTensor tensor) => tensor.Bytes?.Sum(b => (long)b.Length) ?? tensor.Data.Length;

    private async Task WriteAsync()
    {
        var files = new Dictionary<string, FileStream>(StringComparer.Ordinal);
        try
        {
            await foreach ((string model, byte[] line) in _lines.Reader.ReadAllAsync())
            {
                FileStream file = files.TryGetValue(model, out FileStream? open) ? open : files[model] = Open(model);
                await file.WriteAsync(line);
                if (file.Length >= _maxFileBytes)
                {
                    await file.DisposeAsync();
                    files.Remove(model);
                    Rotate(model);
                }
                else if (_lines.Reader.Count == 0)
                {
                    await file.FlushAsync();
                }
            }
        }
        finally
        {
            foreach (FileStream file in files.Values)
            {
                await file.DisposeAsync();
            }
        }
    }

    private FileStream Open(string model)
    {
        string folder = Path.Combine(_directory, model);
        Directory.CreateDirectory(folder);
        return new FileStream(Path.Combine(folder, CurrentFileName), FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    // payloads.jsonl becomes payloads.<UTC time>.jsonl; beyond the files kept, the oldest are deleted.
    private void Rotate(string model)
    {
        string folder = Path.Combine(_directory, model);
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmssfffffff", CultureInfo.InvariantCulture);
        File.Move(Path.Combine(folder, CurrentFileName), Path.Combine(folder, $"payloads.{stamp}.jsonl"));
        foreach (string old in Directory.EnumerateFiles(folder, "payloads.*.jsonl").Order(StringComparer.Ordinal).SkipLast(_keepFiles))
        {
            File.Delete(old);
        }
    }
}
