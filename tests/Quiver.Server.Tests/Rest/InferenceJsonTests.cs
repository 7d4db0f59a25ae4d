using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Quiver.Core.Tensors;
using Quiver.Server.Rest;

namespace Quiver.Server.Tests.Rest;

/// <summary>The v2 JSON codec on its own: decoded bytes checked against values encoded here, errors word for word.</summary>
public sealed class InferenceJsonTests
{
    private static InferenceRequest Read(string json) => InferenceJson.ReadRequest(Encoding.UTF8.GetBytes(json), "m", "3");

    private static InferenceTensor ReadInput(string datatype, string shape, string data) =>
        Read($$"""{"inputs":[{"name":"x","datatype":"{{datatype}}","shape":{{shape}},"data":{{data}}}]}""").Inputs[0];

    private static string Error(string json) => Assert.Throws<InferenceException>(() => Read(json)).Message;

    private static string InputError(string datatype, string shape, string data) =>
        Error($$"""{"inputs":[{"name":"x","datatype":"{{datatype}}","shape":{{shape}},"data":{{data}}}]}""");

    [Fact]
    public void ReadRequest_CarriesIdModelVersionParametersAndOutputs()
    {
        InferenceRequest request = Read("""
            {"id":"r1","parameters":{"s":"text","i":42,"d":0.5,"b":true},
             "inputs":[{"name":"x","datatype":"INT32","shape":[2],"data":[1,2],"parameters":{"binary":false}}],
             "outputs":[{"name":"y","parameters":{"classification":3}},{"name":"z"}],
             "future_field":{"ignored":[1,2,3]}}
            """);

        Assert.Equal(("r1", "m", "3"), (request.Id, request.ModelName, request.ModelVersion));
        Assert.Equal("text", request.Parameters["s"]);
        Assert.Equal(42L, request.Parameters["i"]);
        Assert.Equal(0.5, request.Parameters["d"]);
        Assert.Equal(true, request.Parameters["b"]);
        Assert.Equal(false, request.Inputs[0].Parameters["binary"]);
        Assert.Equal(["y", "z"], request.Outputs!.Select(o => o.Name));
        Assert.Equal(3L, request.Outputs![0].Parameters["classification"]);
        Assert.Empty(request.Outputs[1].Parameters);
    }

    [Fact]
    public void ReadRequest_WithoutOutputs_AsksForAll()
    {
        Assert.Null(Read("""{"inputs":[]}""").Outputs);
    }

    [Fact]
    public void ReadRequest_DataBeforeDatatypeAndShape_IsDecoded()
    {
        InferenceRequest request = Read("""{"inputs":[{"data":[[1,2],[3,4]],"name":"x","shape":[2,2],"datatype":"INT16"}]}""");

        Assert.Equal([1, 2, 3, 4], request.Inputs[0].AsSpan<short>().ToArray());
        Assert.Equal([2L, 2L], request.Inputs[0].Shape);
    }

    [Fact]
    public void ReadRequest_NestedAndFlatData_GiveTheSameBytes()
    {
        InferenceTensor nested = ReadInput("FP32", "[2,2,2]", "[[[1,2],[3,4]],[[5,6],[7,8.5]]]");
        InferenceTensor flat = ReadInput("FP32", "[2,2,2]", "[1,2,3,4,5,6,7,8.5]");

        Assert.Equal(flat.Data.ToArray(), nested.Data.ToArray());
        Assert.Equal(8.5f, flat.AsSpan<float>()[7]);
    }

    public static TheoryData<string, string, byte[]> EveryDatatype => new()
    {
        { "BOOL", "[true,false]", [1, 0] },
        { "UINT8", "[0,255]", [0, 255] },
        { "INT8", "[-128,127]", [0x80, 0x7f] },
        { "UINT16", "[1,65535]", [1, 0, 0xff, 0xff] },
        { "INT16", "[-2,300]", [0xfe, 0xff, 0x2c, 0x01] },
        { "UINT32", "[4294967295,1]", [0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0] },
        { "INT32", "[-1,16777216]", [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1] },
        { "UINT64", "[18446744073709551615,2]", [.. Enumerable.Repeat((byte)0xff, 8), 2, 0, 0, 0, 0, 0, 0, 0] },
        { "INT64", "[-9223372036854775808,1]", [0, 0, 0, 0, 0, 0, 0, 0x80, 1, 0, 0, 0, 0, 0, 0, 0] },
        { "FP16", "[1.5,-2]", [0x00, 0x3e, 0x00, 0xc0] },
        { "BF16", "[1.5,-2]", [0xc0, 0x3f, 0x00, 0xc0] },
        { "FP32", "[1.5,-2]", [0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0] },
        { "FP64", "[1.5,-2]", [0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0] },
    };

    [Theory]
    [MemberData(nameof(EveryDatatype))]
    public void ReadRequest_EveryDatatype_DecodesToLittleEndianBytes(string datatype, string data, byte[] expected)
    {
        InferenceTensor tensor = ReadInput(datatype, "[2]", data);

        Assert.Equal(datatype, tensor.DataType.Name());
        Assert.Equal(expected, tensor.Data.ToArray());
    }

    [Fact]
    public void ReadRequest_Bf16_RoundsToNearestEven()
    {
        // 1 + 2^-8 lies exactly between two bfloat16 values (1 and 1 + 2^-7); the even one is 1.
        InferenceTensor tensor = ReadInput("BF16", "[2]", "[1.00390625,1.01171875]");

        Assert.Equal([0x3f80, 0x3f82], [BinaryPrimitives.ReadUInt16LittleEndian(tensor.Data.Span), BinaryPrimitives.ReadUInt16LittleEndian(tensor.Data.Span[2..])]);
    }

    [Fact]
    public void ReadRequest_Bytes_AreUtf8WithEscapesResolved()
    {
        InferenceTensor tensor = ReadInput("BYTES", "[3]", """["plain","h\u00e9 \"q\" \n","\u0000"]""");

        Assert.Equal(DataType.Bytes, tensor.DataType);
        Assert.Equal(Encoding.UTF8.GetBytes("plain"), tensor.Bytes![0]);
        Assert.Equal(Encoding.UTF8.GetBytes("hé \"q\" \n"), tensor.Bytes[1]);
        Assert.Equal([0], tensor.Bytes[2]);
    }

    [Fact]
    public void ReadRequest_ScalarShape_TakesOneElement()
    {
        InferenceTensor tensor = ReadInput("INT64", "[]", "[7]");

        Assert.Empty(tensor.Shape);
        Assert.Equal([7L], tensor.AsSpan<long>().ToArray());
    }

    public static TheoryData<string, string[]> MalformedRequests => new()
    {
        { """{"inputs": [""", ["malformed JSON"] },
        { """{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[NaN]}]}""", ["malformed JSON"] },
        { """{"inputs":[]} {}""", ["after"] },
        { "[]", ["JSON object"] },
        { "42", ["JSON object"] },
        { "{}", ["no \"inputs\""] },
        { """{"inputs":{}}""", ["\"inputs\"", "array"] },
        { """{"inputs":[1]}""", ["element 0", "a number"] },
        { """{"id":5,"inputs":[]}""", ["\"id\"", "string"] },
        { """{"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]}""", ["input 0", "\"name\""] },
        { """{"inputs":[{"name":"x","shape":[1],"data":[1]}]}""", ["'x'", "\"datatype\""] },
        { """{"inputs":[{"name":"x","datatype":"FP32","data":[1]}]}""", ["'x'", "\"shape\""] },
        { """{"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]}""", ["'x'", "\"data\""] },
        { """{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":1}]}""", ["'x'", "\"data\"", "array"] },
        { """{"inputs":[{"name":"x","datatype":"FP32","shape":"[1]","data":[1]}]}""", ["'x'", "\"shape\""] },
        { """{"inputs":[{"name":"x","datatype":"FP32","shape":[1.5],"data":[1]}]}""", ["'x'", "1.5"] },
        { """{"parameters":{"p":{"nested":1}},"inputs":[]}""", ["'p'", "an object"] },
        { """{"parameters":{"p":null},"inputs":[]}""", ["'p'", "null"] },
        { """{"inputs":[],"outputs":[{"parameters":{}}]}""", ["output 0", "\"name\""] },
    };

    [Theory]
    [MemberData(nameof(MalformedRequests))]
    public void ReadRequest_MalformedRequest_SaysWhatIsWrong(string json, string[] mentions)
    {
        string error = Error(json);

        foreach (string mention in mentions)
        {
            Assert.Contains(mention, error);
        }
    }

    public static TheoryData<string, string, string, string[]> BadData => new()
    {
        { "FLOAT", "[1]", "[1]", ["'x'", "'FLOAT'", "FP32", "BYTES"] },
        { "FP32", "[-1,4]", "[1]", ["'x'", "negative"] },
        { "FP32", "[4611686018427387904,4]", "[1]", ["'x'", "64 bits"] },
        { "FP32", "[1,4]", "[1,2,3]", ["'x'", "[1,4]", "needs 4 elements", "data has 3"] },
        { "FP32", "[1,2]", "[1,2,3]", ["'x'", "needs 2 elements", "data has 3"] },
        { "FP32", "[2]", "[1,\"2\"]", ["'x'", "element 1", "a string", "a number", "FP32"] },
        { "FP32", "[2]", "[1,\"NaN\"]", ["'x'", "element 1", "a string", "a number"] },
        { "FP32", "[1]", "[null]", ["'x'", "element 0", "null"] },
        { "FP32", "[1]", "[1e39]", ["'x'", "1e39", "does not fit in FP32"] },
        { "FP64", "[1]", "[1e400]", ["'x'", "does not fit in FP64"] },
        { "FP16", "[1]", "[70000]", ["'x'", "70000", "FP16"] },
        { "BF16", "[1]", "[3.5e38]", ["'x'", "BF16"] },
        { "UINT8", "[2]", "[1,300]", ["'x'", "element 1", "300", "does not fit in UINT8"] },
        { "UINT8", "[1]", "[-1]", ["'x'", "-1", "UINT8"] },
        { "INT8", "[1]", "[128]", ["'x'", "128", "INT8"] },
        { "INT32", "[2]", "[1,2.5]", ["'x'", "2.5", "expected an integer for INT32"] },
        { "INT64", "[1]", "[9223372036854775808]", ["'x'", "INT64"] },
        { "UINT64", "[1]", "[-1]", ["'x'", "UINT64"] },
        { "BOOL", "[3]", "[1,0,1]", ["'x'", "element 0", "true or false for BOOL"] },
        { "BYTES", "[1]", "[42]", ["'x'", "a string", "BYTES"] },
        { "INT32", "[1]", "[{}]", ["'x'", "an object"] },
    };

    [Theory]
    [MemberData(nameof(BadData))]
    public void ReadRequest_BadTensor_NamesTheInputAndWhatWasExpected(string datatype, string shape, string data, string[] mentions)
    {
        string error = InputError(datatype, shape, data);

        foreach (string mention in mentions)
        {
            Assert.Contains(mention, error);
        }
    }

    [Fact]
    public void ReadRequest_HostileShape_FailsWithoutAllocatingForIt()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();

        string error = InputError("FP64", "[1000000000000,1000]", "[1]");
        string withinTheLimit = InputError("FP64", "[1000,1000]", "[1]"); // under the element limit, over what the data holds

        Assert.Contains("beyond the 8388608 JSON elements a request may carry", error);
        Assert.Contains("data has 1", withinTheLimit);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000, "decoding allocated for the declared shape");
    }

    [Fact]
    public void WriteResponse_EveryDatatype_RoundTripsThroughJson()
    {
        var response = new InferenceResponse
        {
            ModelName = "m",
            ModelVersion = "3",
            Id = "r1",
            Parameters = new Parameters(new() { ["cached"] = true, ["n"] = 2L, ["ratio"] = 0.25, ["who"] = "a" }),
            Outputs =
            [
                Tensor(DataType.Bool, [1, 0, 1]),
                Tensor(DataType.UInt64, BitConverter.GetBytes(ulong.MaxValue)),
                Tensor(DataType.Int8, [0xff]),
                Tensor(DataType.Fp16, BitConverter.GetBytes((Half)1.5)),
                Tensor(DataType.Bf16, [0xc0, 0x3f]),
                Tensor(DataType.Fp32, BitConverter.GetBytes(0.1f)),
                Tensor(DataType.Fp64, BitConverter.GetBytes(-2.5e300)),
                new InferenceTensor("text", [2], [Encoding.UTF8.GetBytes("hé"), []]),
            ],
        };

        JsonNode json = Write(w => InferenceJson.WriteResponse(w, response));

        Assert.Equal(("m", "3", "r1"), ((string?)json["model_name"], (string?)json["model_version"], (string?)json["id"]));
        Assert.Equal("""{"cached":true,"n":2,"ratio":0.25,"who":"a"}""", json["parameters"]!.ToJsonString());
        JsonArray outputs = json["outputs"]!.AsArray();
        Assert.Equal("[true,false,true]", outputs[0]!["data"]!.ToJsonString());
        Assert.Equal("[18446744073709551615]", outputs[1]!["data"]!.ToJsonString());
        Assert.Equal("[-1]", outputs[2]!["data"]!.ToJsonString());
        Assert.Equal("[1.5]", outputs[3]!["data"]!.ToJsonString());
        Assert.Equal("[1.5]", outputs[4]!["data"]!.ToJsonString());
        Assert.Equal("[0.1]", outputs[5]!["data"]!.ToJsonString());
        Assert.Equal(-2.5e300, (double)outputs[6]!["data"]![0]!);
        Assert.Equal(["hé", ""], outputs[7]!["data"]!.AsArray().Select(v => (string)v!));
        Assert.Equal(["BOOL", "UINT64", "INT8", "FP16", "BF16", "FP32", "FP64", "BYTES"], outputs.Select(o => (string)o!["datatype"]!));
        Assert.Equal("[3]", outputs[0]!["shape"]!.ToJsonString());
    }

    [Fact]
    public void WriteResponse_NonFiniteFloats_AreWrittenAsStrings()
    {
        byte[] data = [.. BitConverter.GetBytes(float.NaN), .. BitConverter.GetBytes(float.PositiveInfinity), .. BitConverter.GetBytes(float.NegativeInfinity)];
        var response = new InferenceResponse { ModelName = "m", ModelVersion = "1", Outputs = [new InferenceTensor("y", DataType.Fp32, [3], data)] };

        JsonNode json = Write(w => InferenceJson.WriteResponse(w, response));

        Assert.Equal("""["NaN","Infinity","-Infinity"]""", json["outputs"]![0]!["data"]!.ToJsonString());
    }

    [Fact]
    public void WriteResponse_Fp32_IsTheTextUtf8JsonWriterWrites()
    {
        // Seeded bit patterns of every magnitude plus the values that switch notation or have the most digits.
        var random = new Random(5);
        float[] values = [.. Enumerable.Range(0, 20_000).Select(_ => BitConverter.Int32BitsToSingle(random.Next()))
            .Where(float.IsFinite), 0f, -0f, float.Epsilon, float.MaxValue, float.MinValue, 1e15f, 1e16f, 1e-5f, 1e-4f,
            123456790f, 0.1f, 1f / 3, -5.34767E-18f];
        byte[] data = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        var response = new InferenceResponse { ModelName = "m", ModelVersion = "1", Outputs = [new InferenceTensor("y", DataType.Fp32, [values.Length], data)] };

        var expected = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(expected))
        {
            json.WriteStartArray();
            foreach (float v in values)
            {
                json.WriteNumberValue(v);
            }

            json.WriteEndArray();
        }

        JsonNode written = Write(w => InferenceJson.WriteResponse(w, response));

        Assert.Equal(Encoding.UTF8.GetString(expected.WrittenSpan), written["outputs"]![0]!["data"]!.ToJsonString());
    }

    [Fact]
    public void WriteResponse_BytesThatAreNotUtf8_StillGiveValidJson()
    {
        var response = new InferenceResponse { ModelName = "m", ModelVersion = "1", Outputs = [new InferenceTensor("y", [1], [[0x61, 0xff, 0x62]])] };

        JsonNode json = Write(w => InferenceJson.WriteResponse(w, response));

        Assert.Equal("a\uFFFDb", (string?)json["outputs"]![0]!["data"]![0]);
    }

    [Fact]
    public void WriteResponse_WithoutIdOrParameters_OmitsThem()
    {
        var response = new InferenceResponse { ModelName = "m", ModelVersion = "1", Outputs = [] };

        JsonNode json = Write(w => InferenceJson.WriteResponse(w, response));

        Assert.Equal("""{"model_name":"m","model_version":"1","outputs":[]}""", json.ToJsonString());
    }

    [Fact]
    public void WriteError_IsTheProtocolsErrorObject()
    {
        JsonObject json = Write(w => InferenceJson.WriteError(w, "bad \"x\"")).AsObject();

        Assert.Equal("bad \"x\"", (string?)Assert.Single(json).Value);
        Assert.Equal("error", json.First().Key);
    }

    [Fact]
    public void WriteModelMetadata_ListsVersionsPlatformAndSignature()
    {
        JsonNode json = Write(w => InferenceJson.WriteModelMetadata(w, "m", ["1", "2"], "onnxruntime_onnx",
            [new TensorSpec("x", DataType.Fp32, [-1, 4])], [new TensorSpec("y", DataType.Bytes, [-1])]));

        Assert.Equal(
            """{"name":"m","versions":["1","2"],"platform":"onnxruntime_onnx","inputs":[{"name":"x","datatype":"FP32","shape":[-1,4]}],"outputs":[{"name":"y","datatype":"BYTES","shape":[-1]}]}""",
            json.ToJsonString());
    }

    [Fact]
    public void WriteServerMetadata_ListsExtensions()
    {
        JsonNode json = Write(w => InferenceJson.WriteServerMetadata(w, "quiver", "1.2.3", ["classification"]));

        Assert.Equal("""{"name":"quiver","version":"1.2.3","extensions":["classification"]}""", json.ToJsonString());
    }

    private static InferenceTensor Tensor(DataType type, byte[] data) =>
        new(type.Name().ToLowerInvariant(), type, [data.Length / type.ElementSize()], data);

    private static JsonNode Write(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return JsonNode.Parse(buffer.WrittenSpan)!;
    }
}
