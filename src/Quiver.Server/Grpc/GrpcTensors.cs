using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Quiver.Core.Tensors;
using Quiver.Server.Grpc.Proto;
using DataType = Quiver.Core.Tensors.DataType;

namespace Quiver.Server.Grpc;

/// <summary>
/// Converts between the gRPC inference messages and Core's protocol-neutral request and response.
/// Inputs come typed (<c>contents</c>) or raw (<c>raw_input_contents</c>, BYTES elements as 4-byte
/// little-endian length prefixes); outputs always go back raw, as Triton sends them.
/// </summary>
internal static class GrpcTensors
{
    /// <summary>Decodes a request; error messages never echo values of the inputs named in <paramref name="sensitive"/>.</summary>
    public static InferenceRequest ToRequest(ModelInferRequest message, IReadOnlySet<string> sensitive)
    {
        bool raw = message.RawInputContents.Count > 0;
        if (raw && message.RawInputContents.Count != message.Inputs.Count)
        {
            throw Invalid($"raw_input_contents has {message.RawInputContents.Count} entries, but the request has {message.Inputs.Count} inputs; give one per input, in order");
        }

        var inputs = new InferenceTensor[message.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            ModelInferRequest.Types.InferInputTensor input = message.Inputs[i];
            if (raw && input.Contents is not null)
            {
                throw Invalid($"input '{input.Name}' has contents, but the request also uses raw_input_contents; use one or the other");
            }

            inputs[i] = ToTensor(input, raw ? message.RawInputContents[i] : null, sensitive.Contains(input.Name));
        }

        RequestedOutput[]? outputs = message.Outputs.Count == 0
            ? null
            : message.Outputs.Select(o => new RequestedOutput(o.Name, ToParameters(o.Parameters, $"output '{o.Name}'"))).ToArray();
        return new InferenceRequest
        {
            Id = message.Id.Length == 0 ? null : message.Id,
            ModelName = message.ModelName,
            ModelVersion = message.ModelVersion.Length == 0 ? null : message.ModelVersion,
            Inputs = inputs,
            Outputs = outputs,
            Parameters = ToParameters(message.Parameters, "request"),
        };
    }

    public static ModelInferResponse ToMessage(InferenceResponse response)
    {
        var message = new ModelInferResponse
        {
            ModelName = response.ModelName,
            ModelVersion = response.ModelVersion,
            Id = response.Id ?? "",
        };
        AddParameters(message.Parameters, response.Parameters);
        foreach (InferenceTensor tensor in response.Outputs)
        {
            var output = new ModelInferResponse.Types.InferOutputTensor { Name = tensor.Name, Datatype = tensor.DataType.Name() };
            output.Shape.AddRange(tensor.Shape);
            AddParameters(output.Parameters, tensor.Parameters);
            message.Outputs.Add(output);
            message.RawOutputContents.Add(tensor.DataType == DataType.Bytes
                ? ByteString.CopyFrom(LengthPrefixedBytes.Encode(tensor.Bytes!))
                : UnsafeByteOperations.UnsafeWrap(tensor.Data));
        }

        return message;
    }

    public static Parameters ToParameters(MapField<string, InferParameter> parameters, string owner)
    {
        if (parameters.Count == 0)
        {
            return Parameters.Empty;
        }

        var values = new Dictionary<string, object>(parameters.Count);
        foreach (var (key, value) in parameters)
        {
            values[key] = value.ParameterChoiceCase switch
            {
                InferParameter.ParameterChoiceOneofCase.BoolParam => value.BoolParam,
                InferParameter.ParameterChoiceOneofCase.Int64Param => value.Int64Param,
                InferParameter.ParameterChoiceOneofCase.StringParam => value.StringParam,
                InferParameter.ParameterChoiceOneofCase.DoubleParam => value.DoubleParam,
                InferParameter.ParameterChoiceOneofCase.Uint64Param when value.Uint64Param <= long.MaxValue => (long)value.Uint64Param,
                _ => throw Invalid($"{owner} parameter '{key}' has no value, or a uint64 above 2^63"),
            };
        }

        return new Parameters(values);
    }

    private static InferenceTensor ToTensor(ModelInferRequest.Types.InferInputTensor input, ByteString? raw, bool sensitive)
    {
        string label = $"input '{input.Name}'";
        if (!DataTypes.TryParse(input.Datatype, out DataType type))
        {
            throw Invalid($"{label} has datatype '{input.Datatype}'; expected one of {string.Join(", ", DataTypes.Names)}");
        }

        long[] shape = [.. input.Shape];
        long count = Shapes.ElementCount(shape);
        if (count < 0)
        {
            throw Invalid($"{label} has shape {Shapes.Format(shape)}; dimensions must be 0 or more and their product must fit in 64 bits");
        }

        Parameters parameters = ToParameters(input.Parameters, label);
        if (raw is not null)
        {
            if (type == DataType.Bytes)
            {
                return new InferenceTensor(input.Name, shape, LengthPrefixedBytes.Decode(raw.Span, count, label), parameters);
            }

            long needed = count * type.ElementSize();
            return raw.Length == needed
                ? new InferenceTensor(input.Name, type, shape, raw.Memory, parameters)
                : throw Invalid($"{label} raw content has {raw.Length} bytes, but shape {Shapes.Format(shape)} of {type.Name()} needs {needed}");
        }

        InferTensorContents contents = input.Contents
            ?? throw Invalid($"{label} has no contents and the request has no raw_input_contents");
        return type == DataType.Bytes
            ? new InferenceTensor(input.Name, shape, CheckCount(contents.BytesContents.Select(b => b.ToByteArray()).ToArray(), count, label), parameters)
            : new InferenceTensor(input.Name, type, shape, TypedContents(contents, type, count, label, sensitive), parameters);
    }

    private static byte[] TypedContents(InferTensorContents contents, DataType type, long count, string label, bool sensitive) => type switch
    {
        DataType.Bool => CheckCount(contents.BoolContents.Select(b => b ? (byte)1 : (byte)0).ToArray(), count, label),
        DataType.Int8 => Narrow(contents.IntContents, count, label, sensitive, type, sbyte.MinValue, sbyte.MaxValue, (span, v) => span[0] = (byte)(sbyte)v),
        DataType.Int16 => Narrow(contents.IntContents, count, label, sensitive, type, short.MinValue, short.MaxValue, (span, v) => BinaryPrimitives.WriteInt16LittleEndian(span, (short)v)),
        DataType.Int32 => Narrow(contents.IntContents, count, label, sensitive, type, int.MinValue, int.MaxValue, (span, v) => BinaryPrimitives.WriteInt32LittleEndian(span, (int)v)),
        DataType.UInt8 => Narrow(contents.UintContents, count, label, sensitive, type, 0, byte.MaxValue, (span, v) => span[0] = (byte)v),
        DataType.UInt16 => Narrow(contents.UintContents, count, label, sensitive, type, 0, ushort.MaxValue, (span, v) => BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)v)),
        DataType.UInt32 => Narrow(contents.UintContents, count, label, sensitive, type, 0, uint.MaxValue, (span, v) => BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)v)),
        DataType.Int64 => CheckCount(AsBytes(contents.Int64Contents), count * 8, label, 8),
        DataType.UInt64 => CheckCount(AsBytes(contents.Uint64Contents), count * 8, label, 8),
        DataType.Fp32 => CheckCount(AsBytes(contents.Fp32Contents), count * 4, label, 4),
        DataType.Fp64 => CheckCount(AsBytes(contents.Fp64Contents), count * 8, label, 8),
        _ => throw Invalid($"{label} is {type.Name()}, which has no typed contents field; send it in raw_input_contents"),
    };

    private static byte[] Narrow<T>(RepeatedField<T> values, long count, string label, bool sensitive, DataType type, long min, long max, Action<Span<byte>, long> write)
        where T : struct, IConvertible
    {
        int size = type.ElementSize();
        var bytes = new byte[values.Count * size];
        for (int i = 0; i < values.Count; i++)
        {
            long value = Convert.ToInt64(values[i], System.Globalization.CultureInfo.InvariantCulture);
            if (value < min || value > max)
            {
                throw Invalid(sensitive
                    ? $"{label} element {i} does not fit in {type.Name()} (the value is not shown: {label} is sensitive)"
                    : $"{label} element {i} is {value}, which does not fit in {type.Name()}");
            }

            write(bytes.AsSpan(i * size, size), value);
        }

        return CheckCount(bytes, count * size, label, size);
    }

    private static byte[] AsBytes<T>(RepeatedField<T> values) where T : unmanaged =>
        MemoryMarshal.AsBytes(values.ToArray().AsSpan()).ToArray();

    private static T[] CheckCount<T>(T[] values, long expected, string label, int elementSize = 1) =>
        values.Length == expected
            ? values
            : throw Invalid($"{label} contents have {values.Length / elementSize} elements, but its shape needs {expected / elementSize}");

    private static void AddParameters(MapField<string, InferParameter> target, Parameters parameters)
    {
        foreach (var (key, value) in parameters)
        {
            target[key] = value switch
            {
                bool b => new InferParameter { BoolParam = b },
                long l => new InferParameter { Int64Param = l },
                double d => new InferParameter { DoubleParam = d },
                _ => new InferParameter { StringParam = value.ToString() },
            };
        }
    }

    private static GrpcException Invalid(string message) => GrpcException.InvalidArgument(message);
}
