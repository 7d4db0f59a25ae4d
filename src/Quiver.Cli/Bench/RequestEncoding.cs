using System.Buffers.Binary;
using System.Text.Json;
using Google.Protobuf;
using Quiver.Core.Tensors;
using ModelInferRequest = Quiver.Server.Grpc.Proto.ModelInferRequest;

namespace Quiver.Cli.Bench;

/// <summary>Encodes the benchmark's inputs once, in each protocol's wire form, so sending costs the generator no encoding.</summary>
public static class RequestEncoding
{
    /// <summary>A REST request body with JSON tensors; outputs come back as JSON too.</summary>
    public static byte[] RestJson(IReadOnlyList<InputTensor> inputs)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("inputs");
            foreach (InputTensor input in inputs)
            {
                WriteInputHeader(json, input);
                json.WriteStartArray("data");
                WriteElements(json, input);
                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    /// <summary>
    /// A REST body of the binary tensor data extension: the JSON header (its length goes in
    /// Inference-Header-Content-Length), then each input's bytes; outputs are asked for in binary too.
    /// </summary>
    public static (byte[] Body, int HeaderLength) RestBinary(IReadOnlyList<InputTensor> inputs)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("inputs");
            foreach (InputTensor input in inputs)
            {
                WriteInputHeader(json, input);
                json.WriteStartObject("parameters");
                json.WriteNumber("binary_data_size", input.Raw.Length);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartObject("parameters");
            json.WriteBoolean("binary_data_output", true);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        int headerLength = (int)stream.Length;
        foreach (InputTensor input in inputs)
        {
            stream.Write(input.Raw);
        }

        return (stream.ToArray(), headerLength);
    }

    /// <summary>A framed gRPC ModelInferRequest (flag byte, big-endian length, message) with raw_input_contents.</summary>
    public static byte[] GrpcFrame(string model, string? version, IReadOnlyList<InputTensor> inputs)
    {
        var request = new ModelInferRequest { ModelName = model, ModelVersion = version ?? "" };
        foreach (InputTensor input in inputs)
        {
            var tensor = new ModelInferRequest.Types.InferInputTensor { Name = input.Name, Datatype = input.Type.Name() };
            tensor.Shape.AddRange(input.Shape);
            request.Inputs.Add(tensor);
            request.RawInputContents.Add(ByteString.CopyFrom(input.Raw));
        }

        byte[] message = request.ToByteArray();
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    private static void WriteInputHeader(Utf8JsonWriter json, InputTensor input)
    {
        json.WriteStartObject();
        json.WriteString("name", input.Name);
        json.WriteStartArray("shape");
        foreach (long dim in input.Shape)
        {
            json.WriteNumberValue(dim);
        }

        json.WriteEndArray();
        json.WriteString("datatype", input.Type.Name());
    }

    private static void WriteElements(Utf8JsonWriter json, InputTensor input)
    {
        if (input.Strings is { } strings)
        {
            foreach (byte[] s in strings)
            {
                json.WriteStringValue(s);
            }

            return;
        }

        ReadOnlySpan<byte> raw = input.Raw;
        int size = input.Type.ElementSize();
        for (int offset = 0; offset < raw.Length; offset += size)
        {
            ReadOnlySpan<byte> e = raw.Slice(offset, size);
            switch (input.Type)
            {
                case DataType.Bool:
                    json.WriteBooleanValue(e[0] != 0);
                    break;
                case DataType.UInt8:
                    json.WriteNumberValue(e[0]);
                    break;
                case DataType.Int8:
                    json.WriteNumberValue((sbyte)e[0]);
                    break;
                case DataType.UInt16:
                    json.WriteNumberValue(BinaryPrimitives.ReadUInt16LittleEndian(e));
                    break;
                case DataType.Int16:
                    json.WriteNumberValue(BinaryPrimitives.ReadInt16LittleEndian(e));
                    break;
                case DataType.UInt32:
                    json.WriteNumberValue(BinaryPrimitives.ReadUInt32LittleEndian(e));
                    break;
                case DataType.Int32:
                    json.WriteNumberValue(BinaryPrimitives.ReadInt32LittleEndian(e));
                    break;
                case DataType.UInt64:
                    json.WriteNumberValue(BinaryPrimitives.ReadUInt64LittleEndian(e));
                    break;
                case DataType.Int64:
                    json.WriteNumberValue(BinaryPrimitives.ReadInt64LittleEndian(e));
                    break;
                case DataType.Fp16:
                    json.WriteNumberValue((float)BinaryPrimitives.ReadHalfLittleEndian(e));
                    break;
                case DataType.Bf16:
                    json.WriteNumberValue(BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(e) << 16));
                    break;
                case DataType.Fp32:
                    json.WriteNumberValue(BinaryPrimitives.ReadSingleLittleEndian(e));
                    break;
                case DataType.Fp64:
                    json.WriteNumberValue(BinaryPrimitives.ReadDoubleLittleEndian(e));
                    break;
            }
        }
    }
}
