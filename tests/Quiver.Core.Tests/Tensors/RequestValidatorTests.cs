using Quiver.Core.Tensors;

namespace Quiver.Core.Tests.Tensors;

public sealed class RequestValidatorTests
{
    private static readonly TensorSpec[] s_inputs =
    [
        new("input", DataType.Fp32, [-1, 4]),
        new("mask", DataType.Bool, [-1, 4]),
    ];

    private static readonly TensorSpec[] s_outputs =
    [
        new("probabilities", DataType.Fp32, [-1, 2]),
        new("logits", DataType.Fp32, [-1, 2]),
    ];

    private static InferenceTensor Floats(string name, params long[] shape) =>
        new(name, DataType.Fp32, shape, new byte[Math.Max(0, Shapes.ElementCount(shape)) * 4]);

    private static InferenceTensor Mask(params long[] shape) =>
        new("mask", DataType.Bool, shape, new byte[Shapes.ElementCount(shape)]);

    private static InferenceError? Validate(IReadOnlyList<InferenceTensor> inputs, IReadOnlyList<RequestedOutput>? outputs = null, int maxBatchSize = 8) =>
        RequestValidator.Validate(new InferenceRequest { ModelName = "m", Inputs = inputs, Outputs = outputs }, s_inputs, s_outputs, maxBatchSize);

    private static void AssertInvalid(InferenceError? error, params string[] mentions)
    {
        Assert.NotNull(error);
        Assert.Equal(ErrorKind.InvalidArgument, error.Kind);
        foreach (string mention in mentions)
        {
            Assert.Contains(mention, error.Message);
        }
    }

    [Fact]
    public void Validate_FittingRequest_IsNull()
    {
        Assert.Null(Validate([Floats("input", 3, 4), Mask(3, 4)], [new RequestedOutput("logits", Parameters.Empty)]));
    }

    [Fact]
    public void Validate_InputsInAnyOrder_IsNull()
    {
        Assert.Null(Validate([Mask(1, 4), Floats("input", 1, 4)]));
    }

    [Fact]
    public void Validate_UnknownInput_NamesItAndListsTheModelsInputs()
    {
        AssertInvalid(Validate([Floats("inptu", 1, 4), Mask(1, 4)]), "'inptu'", "input, mask");
    }

    [Fact]
    public void Validate_MissingInput_NamesIt()
    {
        AssertInvalid(Validate([Floats("input", 1, 4)]), "'mask'", "missing");
    }

    [Fact]
    public void Validate_DuplicateInput_IsRefused()
    {
        AssertInvalid(Validate([Floats("input", 1, 4), Floats("input", 1, 4), Mask(1, 4)]), "'input'", "more than once");
    }

    [Fact]
    public void Validate_WrongDatatype_NamesBoth()
    {
        var ints = new InferenceTensor("input", DataType.Int32, [1, 4], new byte[16]);

        AssertInvalid(Validate([ints, Mask(1, 4)]), "'input'", "INT32", "FP32");
    }

    [Fact]
    public void Validate_WrongRank_SaysRankAndExpectedShape()
    {
        AssertInvalid(Validate([Floats("input", 4), Mask(1, 4)]), "'input'", "rank 1", "rank 2", "[-1,4]");
    }

    [Fact]
    public void Validate_WrongFixedDimension_ShowsBothShapes()
    {
        AssertInvalid(Validate([Floats("input", 1, 5), Mask(1, 4)]), "'input'", "[1,5]", "[-1,4]");
    }

    [Fact]
    public void Validate_NegativeDimension_IsRefused()
    {
        var tensor = new InferenceTensor("input", DataType.Fp32, [-2, 4], Array.Empty<byte>());

        AssertInvalid(Validate([tensor, Mask(1, 4)]), "'input'", "negative");
    }

    [Fact]
    public void Validate_BatchOverMaxBatchSize_SaysBoth()
    {
        AssertInvalid(Validate([Floats("input", 9, 4), Mask(9, 4)]), "'input'", "batch size 9", "max_batch_size 8");
    }

    [Fact]
    public void Validate_MaxBatchSizeZero_DoesNotBoundTheFirstDimension()
    {
        Assert.Null(Validate([Floats("input", 100, 4), Mask(100, 4)], maxBatchSize: 0));
    }

    [Fact]
    public void Validate_DataNotMatchingTheShape_SaysBothCounts()
    {
        var tensor = new InferenceTensor("input", DataType.Fp32, [2, 4], new byte[7 * 4]);

        AssertInvalid(Validate([tensor, Mask(2, 4)]), "'input'", "needs 8 elements", "data has 7");
    }

    [Fact]
    public void Validate_BytesCountNotMatchingTheShape_IsRefused()
    {
        TensorSpec[] inputs = [new("text", DataType.Bytes, [-1])];
        var request = new InferenceRequest { ModelName = "m", Inputs = [new InferenceTensor("text", [3], [[1], [2]])] };

        AssertInvalid(RequestValidator.Validate(request, inputs, s_outputs, 0), "'text'", "needs 3", "has 2");
    }

    [Fact]
    public void Validate_UnknownOutput_ListsTheModelsOutputs()
    {
        AssertInvalid(Validate([Floats("input", 1, 4), Mask(1, 4)], [new RequestedOutput("nope", Parameters.Empty)]),
            "'nope'", "probabilities, logits");
    }

    [Fact]
    public void Validate_DuplicateOutput_IsRefused()
    {
        RequestedOutput logits = new("logits", Parameters.Empty);

        AssertInvalid(Validate([Floats("input", 1, 4), Mask(1, 4)], [logits, logits]), "'logits'", "more than once");
    }

    [Fact]
    public void Validate_FittingRequest_AllocatesNothing()
    {
        IReadOnlyList<InferenceTensor> inputs = [Floats("input", 3, 4), Mask(3, 4)];
        Validate(inputs); // JIT
        long before = GC.GetAllocatedBytesForCurrentThread();

        for (int i = 0; i < 100; i++)
        {
            Validate(inputs);
        }

        // Only the request records themselves; validation adds nothing per call.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100 * 200);
    }
}
