using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Quiver.Core.Tensors;
using Quiver.Core.Text;

namespace Quiver.Server.Rest;

/// <summary>
/// The Open Inference Protocol's JSON bodies: requests decoded straight into tensors' raw bytes, responses
/// and metadata written straight into the response pipe.
/// </summary>
internal static class InferenceJson
{
    // JSON responses are served as application/json, never embedded in HTML, so non-ASCII text can stay readable.
    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Decodes an inference request; throws <see cref="InferenceException"/> saying what is wrong.</summary>
    public static InferenceRequest ReadRequest(ReadOnlySpan<byte> json, string model, string? version) =>
        ReadRequest(json, ReadOnlyMemory<byte>.Empty, model, version);

    /// <summary>Decodes a request of the binary tensor extension: the JSON header, then the inputs' binary data.</summary>
    public static InferenceRequest ReadRequest(ReadOnlySpan<byte> json, ReadOnlyMemory<byte> binary, string model, string? version) =>
        ReadRequest(json, binary, model, version, JsonRequestLimits.Default, new HashSet<string>());

    /// <summary>Decodes a request within <paramref name="limits"/>, never echoing values of <paramref name="sensitive"/> inputs.</summary>
    public static InferenceRequest ReadRequest(ReadOnlySpan<byte> json, ReadOnlyMemory<byte> binary, string model, string? version,
        JsonRequestLimits limits, IReadOnlySet<string> sensitive)
    {
        try
        {
            return InferenceRequestReader.Read(json, binary, model, version, limits, sensitive);
        }
        catch (JsonException e)
        {
            throw InferenceException.InvalidArgument($"malformed JSON: {e.Message}");
        }
    }

    /// <summary>
    /// Writes a response's JSON. Outputs for which <paramref name="isBinary"/> is true are written the binary
    /// tensor extension's way: no "data", a <c>binary_data_size</c> parameter instead; their bytes are for
    /// the caller to append after the JSON (<see cref="BinaryData"/>).
    /// </summary>
    public static void WriteResponse(IBufferWriter<byte> output, InferenceResponse response, Func<InferenceTensor, bool>? isBinary = null)
    {
        using var writer = new Utf8JsonWriter(output, s_writerOptions);
        writer.WriteStartObject();
        writer.WriteString("model_name", response.ModelName);
        writer.WriteString("model_version", response.ModelVersion);
        if (response.Id is not null)
        {
            writer.WriteString("id", response.Id);
        }

        WriteParameters(writer, response.Parameters);
        writer.WriteStartArray("outputs");
        foreach (InferenceTensor tensor in response.Outputs)
        {
            writer.WriteStartObject();
            writer.WriteString("name", tensor.Name);
            writer.WriteString("datatype", tensor.DataType.Name());
            WriteShape(writer, tensor.Shape);
            if (isBinary?.Invoke(tensor) == true)
            {
                WriteParameters(writer, tensor.Parameters.With(InferenceRequestReader.BinaryDataSize, (long)BinaryData(tensor).Length));
            }
            else
            {
                WriteParameters(writer, tensor.Parameters);
                writer.WritePropertyName("data");
                WriteData(writer, tensor);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>An output's bytes in the binary tensor extension: raw elements, or length-prefixed BYTES elements.</summary>
    public static ReadOnlyMemory<byte> BinaryData(InferenceTensor tensor) =>
        tensor.DataType == DataType.Bytes ? LengthPrefixedBytes.Encode(tensor.Bytes!) : tensor.Data;

    public static void WriteError(IBufferWriter<byte> output, string message)
    {
        using var writer = new Utf8JsonWriter(output, s_writerOptions);
        writer.WriteStartObject();
        writer.WriteString("error", message);
        writer.WriteEndObject();
    }

    public static void WriteServerMetadata(IBufferWriter<byte> output, string name, string version, string[] extensions)
    {
        using var writer = new Utf8JsonWriter(output, s_writerOptions);
        writer.WriteStartObject();
        writer.WriteString("name", name);
        writer.WriteString("version", version);
        writer.WriteStartArray("extensions");
        foreach (string extension in extensions)
        {
            writer.WriteStringValue(extension);
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static void WriteModelMetadata(IBufferWriter<byte> output, string name, string[] versions, string platform,
        IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs)
    {
        using var writer = new Utf8JsonWriter(output, s_writerOptions);
        writer.WriteStartObject();
        writer.WriteString("name", name);
        writer.WriteStartArray("versions");
        foreach (string version in versions)
        {
            writer.WriteStringValue(version);
        }

        writer.WriteEndArray();
        writer.WriteString("platform", platform);
        WriteSpecs(writer, "inputs", inputs);
        WriteSpecs(writer, "outputs", outputs);
        writer.WriteEndObject();
    }

    private static void WriteSpecs(Utf8JsonWriter writer, string property, IReadOnlyList<TensorSpec> specs)
    {
        writer.WriteStartArray(property);
        foreach (TensorSpec spec in specs)
        {
            writer.WriteStartObject();
            writer.WriteString("name", spec.Name);
            writer.WriteString("datatype", spec.DataType.Name());
            WriteShape(writer, spec.Shape);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteShape(Utf8JsonWriter writer, long[] shape) => WriteNumbers(writer, "shape", shape);

    /// <summary>An array of integers under <paramref name="property"/>: shapes, dims, versions.</summary>
    internal static void WriteNumbers(Utf8JsonWriter writer, string property, IEnumerable<long> values)
    {
        writer.WriteStartArray(property);
        foreach (long value in values)
        {
            writer.WriteNumberValue(value);
        }

        writer.WriteEndArray();
    }

    private static void WriteParameters(Utf8JsonWriter writer, Parameters parameters)
    {
        if (parameters.Count == 0)
        {
            return;
        }

        writer.WriteStartObject("parameters");
        foreach (var (key, value) in parameters)
        {
            switch (value)
            {
                case string s:
                    writer.WriteString(key, s);
                    break;
                case long l:
                    writer.WriteNumber(key, l);
                    break;
                case double d:
                    writer.WritePropertyName(key);
                    WriteFloat(writer, d);
                    break;
                case bool b:
                    writer.WriteBoolean(key, b);
                    break;
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteData(Utf8JsonWriter writer, InferenceTensor tensor)
    {
        writer.WriteStartArray();
        ReadOnlySpan<byte> data = tensor.Data.Span;
        switch (tensor.DataType)
        {
            case DataType.Bool:
                foreach (byte b in data)
                {
                    writer.WriteBooleanValue(b != 0);
                }

                break;
            case DataType.UInt8:
                WriteUnsigned<byte>(writer, data);
                break;
            case DataType.UInt16:
                WriteUnsigned<ushort>(writer, data);
                break;
            case DataType.UInt32:
                WriteUnsigned<uint>(writer, data);
                break;
            case DataType.UInt64:
                WriteUnsigned<ulong>(writer, data);
                break;
            case DataType.Int8:
                WriteSigned<sbyte>(writer, data);
                break;
            case DataType.Int16:
                WriteSigned<short>(writer, data);
                break;
            case DataType.Int32:
                WriteSigned<int>(writer, data);
                break;
            case DataType.Int64:
                WriteSigned<long>(writer, data);
                break;
            case DataType.Fp16:
                foreach (Half v in MemoryMarshal.Cast<byte, Half>(data))
                {
                    WriteFloat(writer, (float)v);
                }

                break;
            case DataType.Bf16:
                foreach (ushort v in MemoryMarshal.Cast<byte, ushort>(data))
                {
                    WriteFloat(writer, BitConverter.UInt32BitsToSingle((uint)v << 16));
                }

                break;
            case DataType.Fp32:
                foreach (float v in MemoryMarshal.Cast<byte, float>(data))
                {
                    WriteFloat(writer, v);
                }

                break;
            case DataType.Fp64:
                foreach (double v in MemoryMarshal.Cast<byte, double>(data))
                {
                    WriteFloat(writer, v);
                }

                break;
            case DataType.Bytes:
                foreach (byte[] element in tensor.Bytes!)
                {
                    WriteBytesElement(writer, element);
                }

                break;
        }

        writer.WriteEndArray();
    }

    private static void WriteSigned<T>(Utf8JsonWriter writer, ReadOnlySpan<byte> data) where T : unmanaged, IBinaryInteger<T>
    {
        foreach (T value in MemoryMarshal.Cast<byte, T>(data))
        {
            writer.WriteNumberValue(long.CreateTruncating(value));
        }
    }

    private static void WriteUnsigned<T>(Utf8JsonWriter writer, ReadOnlySpan<byte> data) where T : unmanaged, IBinaryInteger<T>
    {
        foreach (T value in MemoryMarshal.Cast<byte, T>(data))
        {
            writer.WriteNumberValue(ulong.CreateTruncating(value));
        }
    }

    // JSON has no NaN or infinities; like Python's json module and Triton's clients, they are written as these strings.
    private static void WriteFloat(Utf8JsonWriter writer, float value)
    {
        if (float.IsFinite(value))
        {
            // The text WriteNumberValue would write (the shortest that reads back to the same value), formatted faster.
            Span<byte> text = stackalloc byte[ShortestFloat.MaxLength];
            writer.WriteRawValue(text[..ShortestFloat.Format(value, text)], skipInputValidation: true);
        }
        else
        {
            writer.WriteStringValue(float.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }

    private static void WriteFloat(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteStringValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }

    // A JSON string must be text: bytes that are not UTF-8 are written with U+FFFD in their place.
    // Clients that need exact bytes use the binary tensor extension.
    private static void WriteBytesElement(Utf8JsonWriter writer, byte[] element)
    {
        if (System.Text.Unicode.Utf8.IsValid(element))
        {
            writer.WriteStringValue(element);
        }
        else
        {
            writer.WriteStringValue(Encoding.UTF8.GetString(element));
        }
    }
}
