using System.Runtime.InteropServices;
using System.Text;
using Quiver.Onnx.Model;

namespace Quiver.Onnx.Tests.Runtime;

public sealed class InferenceSessionTests : IDisposable
{
    private readonly TestModels _models = new();

    public void Dispose() => _models.Dispose();

    [Fact]
    public void Inputs_And_Outputs_ReportNamesTypesAndSymbolicDimensions()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        TensorInfo input = Assert.Single(session.Inputs);
        Assert.Equal("input", input.Name);
        Assert.Equal(TensorElementType.Float, input.ElementType);
        Assert.Equal([-1L, 4L], input.Shape);
        Assert.Equal(["batch", ""], input.SymbolicDimensions);
        TensorInfo output = Assert.Single(session.Outputs);
        Assert.Equal(("probabilities", TensorElementType.Float), (output.Name, output.ElementType));
        Assert.Equal([-1L, 2L], output.Shape);
    }

    [Fact]
    public void Run_Mlp_MatchesMatrixMathInCSharp()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());
        float[] x = [1f, 2f, 3f, 4f, -1f, 0.5f, 2f, -3f, 0f, 0f, 0f, 0f];

        TensorValue[] outputs = session.Run([new("input", TensorValue.FromArray([3L, 4L], x))]);

        TensorValue result = Assert.Single(outputs);
        Assert.Equal([3L, 2L], result.Shape);
        Assert.Equal(TensorElementType.Float, result.ElementType);
        float[] expected = TestModels.ExpectedMlp(x, 3);
        float[] actual = result.AsSpan<float>().ToArray();
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[i], 5);
        }
    }

    [Fact]
    public void FromBytes_RunsLikeFromFile()
    {
        byte[] model = SampleModels.Mlp(TestModels.W1, TestModels.B1, TestModels.W2, TestModels.B2, softmax: false).ToBytes();
        using var session = InferenceSession.FromBytes(model);
        float[] x = [0.3f, -0.7f, 1.1f, 2.5f];

        TensorValue result = session.Run([new("input", TensorValue.FromArray([1L, 4L], x))])[0];

        float[] expected = TestModels.ExpectedMlp(x, 1, softmax: false);
        Assert.Equal(expected[0], result.AsSpan<float>()[0], 5);
        Assert.Equal(expected[1], result.AsSpan<float>()[1], 5);
    }

    [Fact]
    public void Run_InputSliceOfALargerBuffer_IsReadInPlace()
    {
        using var session = InferenceSession.FromFile(_models.Save("id", SampleModels.Identity(TensorElementType.Int32, "batch", 2)));
        int[] buffer = [9, 9, 1, 2, 3, 4, 9];
        ReadOnlyMemory<byte> slice = MemoryMarshal.AsBytes(buffer.AsSpan()).ToArray().AsMemory(8, 16);

        TensorValue result = session.Run([new("input", TensorValue.FromBytes(TensorElementType.Int32, [2, 2], slice))])[0];

        Assert.Equal([1, 2, 3, 4], result.AsSpan<int>().ToArray());
    }

    [Fact]
    public void Run_MisalignedInput_IsCopiedAndStillCorrect()
    {
        using var session = InferenceSession.FromFile(_models.Save("id", SampleModels.Identity(TensorElementType.Double, "batch")));
        byte[] raw = new byte[17];
        BitConverter.TryWriteBytes(raw.AsSpan(1), 2.5);
        BitConverter.TryWriteBytes(raw.AsSpan(9), -7.25);

        TensorValue result = session.Run([new("input", TensorValue.FromBytes(TensorElementType.Double, [2], raw.AsMemory(1, 16)))])[0];

        Assert.Equal([2.5, -7.25], result.AsSpan<double>().ToArray());
    }

    public static TheoryData<TensorElementType> NumericTypes => new(
        TensorElementType.Bool, TensorElementType.UInt8, TensorElementType.UInt16, TensorElementType.UInt32, TensorElementType.UInt64,
        TensorElementType.Int8, TensorElementType.Int16, TensorElementType.Int32, TensorElementType.Int64,
        TensorElementType.Float16, TensorElementType.BFloat16, TensorElementType.Float, TensorElementType.Double);

    [Theory]
    [MemberData(nameof(NumericTypes))]
    public void Run_Identity_RoundTripsEveryElementType(TensorElementType type)
    {
        using var session = InferenceSession.FromFile(_models.Save("identity", SampleModels.Identity(type, "batch", 3)));
        int size = ElementTypes.SizeOf(type);
        byte[] data = new byte[2 * 3 * size];
        for (int i = 0; i < data.Length; i++)
        {
            // Bool elements must be 0 or 1; for the other types any bit pattern is a value worth carrying.
            data[i] = type == TensorElementType.Bool ? (byte)(i % 2) : (byte)((i * 37) + 11);
        }

        TensorValue result = session.Run([new("input", TensorValue.FromBytes(type, [2, 3], data))])[0];

        Assert.Equal(type, result.ElementType);
        Assert.Equal([2L, 3L], result.Shape);
        Assert.Equal(data, result.Data.ToArray());
    }

    [Fact]
    public void Run_Strings_CarryAnyBytesIncludingNulAndNonAscii()
    {
        using var session = InferenceSession.FromFile(_models.Save("strings", SampleModels.StringIdentity()));
        byte[][] strings = [Encoding.UTF8.GetBytes("héllo wörld"), [], [0x61, 0x00, 0x62], [0xff, 0xfe], Encoding.UTF8.GetBytes(new string('x', 5000))];

        TensorValue result = session.Run([new("text", TensorValue.FromStrings([5], strings))])[0];

        Assert.Equal(TensorElementType.String, result.ElementType);
        Assert.Equal([5L], result.Shape);
        Assert.Equal(strings, result.Strings!);
        Assert.Equal("héllo wörld", result.GetStrings()[0]);
    }

    [Fact]
    public void Run_Fp16Model_ComputesInHalfPrecision()
    {
        Half[] scale = [(Half)2, (Half)0.5, (Half)(-1)];
        Half[] bias = [(Half)1, (Half)0, (Half)0.25];
        using var session = InferenceSession.FromFile(_models.Save("fp16", SampleModels.Fp16Scale(scale, bias)));
        Half[] x = [(Half)1.5, (Half)4, (Half)2];

        Half[] result = session.Run([new("input", TensorValue.FromArray([1L, 3L], x))])[0].AsSpan<Half>().ToArray();

        Assert.Equal([(Half)4, (Half)2, (Half)(-1.75)], result);
    }

    [Fact]
    public void Run_MultipleInputsAndOutputs_SelectsOutputsByNameInTheOrderAsked()
    {
        using var session = InferenceSession.FromFile(_models.Save("multi", SampleModels.MultiInputOutput()));

        TensorValue[] outputs = session.Run(MultiInputs(), ["any_true", "product", "sum"]);

        Assert.Equal([true, false, true], outputs[0].AsSpan<bool>().ToArray());
        Assert.Equal([10L, 40L, -90L], outputs[1].AsSpan<long>().ToArray());
        Assert.Equal([11L, 22L, -27L], outputs[2].AsSpan<long>().ToArray());
    }

    [Fact]
    public void Run_WithOutputMemory_CopiesEachOutputIntoTheCallersBuffer()
    {
        using var session = InferenceSession.FromFile(_models.Save("multi", SampleModels.MultiInputOutput()));
        var buffers = new byte[2][];
        var asked = new List<(int Output, int Bytes)>();
        Memory<byte> Provide(int output, int bytes)
        {
            asked.Add((output, bytes));
            buffers[output] = new byte[bytes + 16];
            return buffers[output].AsMemory(8, bytes);
        }

        TensorValue[] outputs = session.Run(MultiInputs(), ["product", "any_true"], default, Provide);

        Assert.Equal([(0, 24), (1, 3)], asked);
        Assert.Equal([10L, 40L, -90L], outputs[0].AsSpan<long>().ToArray());
        Assert.Equal([true, false, true], outputs[1].AsSpan<bool>().ToArray());
        Assert.Equal(10L, BitConverter.ToInt64(buffers[0], 8));
        Assert.Equal(1, buffers[1][8]);
    }

    [Fact]
    public void Run_OutputMemoryOfTheWrongLength_IsRefusedNamingTheOutput()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        var error = Assert.Throws<InvalidOperationException>(() =>
            session.Run([new("input", TensorValue.FromArray([1L, 4L], new float[4]))], null, default, (_, bytes) => new byte[bytes - 1]));

        Assert.Contains("'probabilities'", error.Message);
    }

    [Fact]
    public void Run_ZeroRows_ReturnsAnEmptyBatch()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        TensorValue result = session.Run([new("input", TensorValue.FromBytes(TensorElementType.Float, [0, 4], Array.Empty<byte>()))])[0];

        Assert.Equal([0L, 2L], result.Shape);
        Assert.Equal(0, result.Data.Length);
    }

    [Fact]
    public void Run_UnknownInputName_ThrowsInvalidArgumentNamingIt()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        var error = Assert.Throws<OnnxRuntimeException>(() =>
            session.Run([new("nope", TensorValue.FromArray([1L, 4L], new float[4]))]));

        Assert.Equal(OrtErrorCode.InvalidArgument, error.ErrorCode);
        Assert.Contains("'nope'", error.Message);
        Assert.Contains("input", error.Message);
    }

    [Fact]
    public void Run_UnknownOutputName_ThrowsInvalidArgumentNamingIt()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        var error = Assert.Throws<OnnxRuntimeException>(() =>
            session.Run([new("input", TensorValue.FromArray([1L, 4L], new float[4]))], ["nope"]));

        Assert.Equal(OrtErrorCode.InvalidArgument, error.ErrorCode);
        Assert.Contains("'nope'", error.Message);
        Assert.Contains("probabilities", error.Message);
    }

    [Fact]
    public void Run_WrongShape_ThrowsOrtsInvalidArgument()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        var error = Assert.Throws<OnnxRuntimeException>(() =>
            session.Run([new("input", TensorValue.FromArray([1L, 5L], new float[5]))]));

        Assert.Equal(OrtErrorCode.InvalidArgument, error.ErrorCode);
        Assert.Contains("input", error.OrtMessage);
    }

    [Fact]
    public void Run_WrongElementType_ThrowsOrtsInvalidArgument()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        var error = Assert.Throws<OnnxRuntimeException>(() =>
            session.Run([new("input", TensorValue.FromArray([1L, 4L], new double[4]))]));

        Assert.Equal(OrtErrorCode.InvalidArgument, error.ErrorCode);
    }

    [Fact]
    public void Run_MissingInput_ThrowsOrtsErrorNamingIt()
    {
        using var session = InferenceSession.FromFile(_models.Save("multi", SampleModels.MultiInputOutput()));

        var error = Assert.Throws<OnnxRuntimeException>(() =>
            session.Run([new("a", TensorValue.FromArray([1L, 3L], new long[3]))]));

        Assert.Contains("flag", error.OrtMessage);
    }

    [Fact]
    public void Run_AlreadyCancelled_ThrowsWithoutRunning()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        Assert.Throws<OperationCanceledException>(() =>
            session.Run([new("input", TensorValue.FromArray([1L, 4L], new float[4]))], null, new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task Run_CancelledWhileRunning_TerminatesTheRun()
    {
        // 300 chained 1024×1024 MatMuls, 2 GFLOP each: many seconds of work even on a fast core, so the cancel lands mid-run.
        const int n = 1024, nodes = 300;
        var builder = new ModelBuilder().Input("x", TensorElementType.Float, n, n).Output("y", TensorElementType.Float, n, n);
        builder.Initializer("w", Enumerable.Range(0, n * n).Select(i => (i % 7) * 0.001f).ToArray(), n, n);
        string previous = "x";
        for (int i = 0; i < nodes; i++)
        {
            string next = i == nodes - 1 ? "y" : $"h{i}";
            builder.Node("MatMul", [previous, "w"], [next]);
            previous = next;
        }

        using var session = InferenceSession.FromFile(_models.Save("slow", builder), new SessionSettings { IntraOpThreads = 1 });
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var input = TensorValue.FromArray([(long)n, n], new float[n * n]);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(() => session.Run([new("x", input)], null, cancel.Token)));

        // The session still runs after a terminated run (cancelled again, to keep the test short).
        using var again = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Run(() => session.Run([new("x", input)], null, again.Token)));
    }

    [Fact]
    public async Task Run_FromManyThreadsAtOnce_GivesEachCallItsOwnResult()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        await Parallel.ForAsync(0, 200, async (i, _) =>
        {
            await Task.Yield();
            float[] x = [i, -i * 0.5f, 1f, i % 3];
            TensorValue result = session.Run([new("input", TensorValue.FromArray([1L, 4L], x))])[0];
            float[] expected = TestModels.ExpectedMlp(x, 1);
            Assert.Equal(expected[0], result.AsSpan<float>()[0], 5);
        });
    }

    [Fact]
    public void Run_AfterDispose_Throws()
    {
        var session = InferenceSession.FromFile(_models.Mlp());
        session.Dispose();

        Assert.Throws<ObjectDisposedException>(() => session.Run([new("input", TensorValue.FromArray([1L, 4L], new float[4]))]));
    }

    [Fact]
    public void Metadata_ReadsProducerDescriptionVersionAndCustomMap()
    {
        ModelBuilder model = SampleModels.Identity(TensorElementType.Float, "batch")
            .Producer("trainer", "2.1").Domain("ai.example").ModelVersion(7)
            .DocString("scores customers").GraphDocString("the graph")
            .Metadata("owner", "team-a").Metadata("license", "MIT");
        using var session = InferenceSession.FromFile(_models.Save("meta", model));

        ModelMetadata metadata = session.Metadata;

        Assert.Equal("trainer", metadata.ProducerName);
        Assert.Equal("identity_float", metadata.GraphName);
        Assert.Equal("the graph", metadata.GraphDescription);
        Assert.Equal("ai.example", metadata.Domain);
        Assert.Equal("scores customers", metadata.Description);
        Assert.Equal(7, metadata.Version);
        Assert.Equal(new Dictionary<string, string> { ["owner"] = "team-a", ["license"] = "MIT" }, metadata.CustomMetadata);
    }

    [Fact]
    public void FromFile_MissingFile_ThrowsNoSuchFile()
    {
        var error = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.FromFile("/no/such/model.onnx"));

        Assert.Equal(OrtErrorCode.NoSuchFile, error.ErrorCode);
        Assert.Contains("/no/such/model.onnx", error.Message);
    }

    [Fact]
    public void FromBytes_NotAModel_ThrowsInvalidProtobuf()
    {
        var error = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.FromBytes("this is not onnx"u8));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, error.ErrorCode);
    }

    [Fact]
    public void FromBytes_InvalidGraph_ThrowsOrtsError()
    {
        byte[] model = new ModelBuilder().Input("x", TensorElementType.Float, 2).Output("y", TensorElementType.Float, 2)
            .Node("NoSuchOperator", ["x"], ["y"]).ToBytes();

        var error = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.FromBytes(model));

        Assert.Contains("NoSuchOperator", error.Message);
    }

    // The three inputs of SampleModels.MultiInputOutput, one row of three.
    private static NamedTensor[] MultiInputs() =>
    [
        new("flag", TensorValue.FromArray([1L, 3L], new[] { true, false, true })),
        new("a", TensorValue.FromArray([1L, 3L], new[] { 1L, 2L, 3L })),
        new("b", TensorValue.FromArray([1L, 3L], new[] { 10L, 20L, -30L })),
    ];
}
