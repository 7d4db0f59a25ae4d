using Google.Protobuf;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Tests.Model;

public sealed class SampleModelsTests
{
    public static TheoryData<TensorElementType> AllElementTypes =>
        new(Enum.GetValues<TensorElementType>().Where(t => t != TensorElementType.Undefined));

    [Theory]
    [MemberData(nameof(AllElementTypes))]
    public void Identity_EveryElementType_DeclaresThatTypeOnInputAndOutput(TensorElementType type)
    {
        var model = RoundTrip(SampleModels.Identity(type, "batch", 3));

        var graph = model.Graph;
        Assert.Equal("Identity", Assert.Single(graph.Node).OpType);
        Assert.Equal((int)type, Assert.Single(graph.Input).Type.TensorType.ElemType);
        Assert.Equal((int)type, Assert.Single(graph.Output).Type.TensorType.ElemType);
        Assert.Equal([Dim.Named("batch"), Dim.Of(3)], OnnxTypes.DimsOf(graph.Output[0]));
        Assert.Equal(("input", "output"), (graph.Input[0].Name, graph.Output[0].Name));
    }

    [Fact]
    public void Identity_WithoutDims_IsOneDimensionalOverBatch()
    {
        var model = SampleModels.Identity(TensorElementType.Float).Build();

        Assert.Equal([Dim.Named("batch")], OnnxTypes.DimsOf(model.Graph.Input[0]));
    }

    [Fact]
    public void Mlp_WithSoftmax_ChainsGemmReluGemmSoftmaxIntoProbabilities()
    {
        var model = RoundTrip(TinyMlp(softmax: true));

        var graph = model.Graph;
        Assert.Equal(["Gemm", "Relu", "Gemm", "Softmax"], graph.Node.Select(n => n.OpType));
        Assert.All(graph.Node.Where(n => n.OpType == "Gemm"), n => Assert.Equal(0, n.Attribute.Single(a => a.Name == "transB").I));
        Assert.Equal(-1, graph.Node[3].Attribute.Single(a => a.Name == "axis").I);
        Assert.Equal("probabilities", Assert.Single(graph.Output).Name);
        Assert.Equal([Dim.Named("batch"), Dim.Of(2)], OnnxTypes.DimsOf(graph.Input[0]));
        Assert.Equal([Dim.Named("batch"), Dim.Of(2)], OnnxTypes.DimsOf(graph.Output[0]));
        Assert.Equal([2L, 3L], graph.Initializer.Single(t => t.Name == "w1").Dims);
    }

    [Fact]
    public void Mlp_WithoutSoftmax_OutputsLogits()
    {
        var graph = TinyMlp(softmax: false).Build().Graph;

        Assert.Equal(["Gemm", "Relu", "Gemm"], graph.Node.Select(n => n.OpType));
        Assert.Equal("logits", Assert.Single(graph.Output).Name);
    }

    [Fact]
    public void Mlp_LayerShapesDisagree_ThrowsNamingTheShapes()
    {
        var error = Assert.Throws<ArgumentException>(
            () => SampleModels.Mlp(new float[2, 3], new float[4], new float[3, 2], new float[2]));

        Assert.Contains("b1 [4]", error.Message);
    }

    [Fact]
    public void MultiInputOutput_DeclaresThreeInputsAndFourOutputsWithTheirTypes()
    {
        var graph = RoundTrip(SampleModels.MultiInputOutput()).Graph;

        Assert.Equal(
            [("a", TensorElementType.Int64), ("b", TensorElementType.Int64), ("flag", TensorElementType.Bool)],
            graph.Input.Select(v => (v.Name, (TensorElementType)v.Type.TensorType.ElemType)));
        Assert.Equal(
            [("sum", TensorElementType.Int64), ("product", TensorElementType.Int64), ("selected", TensorElementType.Int64), ("any_true", TensorElementType.Bool)],
            graph.Output.Select(v => (v.Name, (TensorElementType)v.Type.TensorType.ElemType)));
        Assert.Equal(["Add", "Mul", "Where", "Or"], graph.Node.Select(n => n.OpType));
        Assert.Equal(["flag", "a", "b"], graph.Node.Single(n => n.OpType == "Where").Input);
    }

    [Fact]
    public void StringIdentity_MapsTextToTextOutAsStrings()
    {
        var graph = RoundTrip(SampleModels.StringIdentity()).Graph;

        Assert.Equal("text", graph.Input[0].Name);
        Assert.Equal("text_out", graph.Output[0].Name);
        Assert.Equal((int)TensorElementType.String, graph.Input[0].Type.TensorType.ElemType);
        Assert.Equal((int)TensorElementType.String, graph.Output[0].Type.TensorType.ElemType);
    }

    [Fact]
    public void Fp16Scale_StoresScaleAndBiasAsFloat16Initializers()
    {
        var graph = RoundTrip(SampleModels.Fp16Scale([(Half)0.5, (Half)2], [(Half)1, (Half)(-1)])).Graph;

        Assert.Equal(["Mul", "Add"], graph.Node.Select(n => n.OpType));
        var scale = graph.Initializer.Single(t => t.Name == "scale");
        Assert.Equal((int)TensorElementType.Float16, scale.DataType);
        Assert.Equal(new byte[] { 0x00, 0x38, 0x00, 0x40 }, scale.RawData.ToByteArray());
        Assert.Equal([(Half)1, (Half)(-1)], OnnxTensors.ToArray<Half>(graph.Initializer.Single(t => t.Name == "bias")));
        Assert.Equal((int)TensorElementType.Float16, graph.Output[0].Type.TensorType.ElemType);
    }

    [Theory]
    [InlineData(TensorElementType.Float)]
    [InlineData(TensorElementType.Double)]
    [InlineData(TensorElementType.Float16)]
    [InlineData(TensorElementType.BFloat16)]
    [InlineData(TensorElementType.Int8)]
    [InlineData(TensorElementType.UInt8)]
    [InlineData(TensorElementType.Int16)]
    [InlineData(TensorElementType.UInt16)]
    [InlineData(TensorElementType.Int32)]
    [InlineData(TensorElementType.UInt32)]
    [InlineData(TensorElementType.Int64)]
    [InlineData(TensorElementType.UInt64)]
    public void AddConstant_NumericType_StoresAScalarAddendOfThatType(TensorElementType type)
    {
        var graph = RoundTrip(SampleModels.AddConstant(type, 3)).Graph;

        var addend = Assert.Single(graph.Initializer);
        Assert.Equal((int)type, addend.DataType);
        Assert.Empty(addend.Dims);
        Assert.Equal(OnnxTensors.ElementSize(type), addend.RawData.Length);
    }

    [Theory]
    [InlineData(TensorElementType.Bool)]
    [InlineData(TensorElementType.String)]
    public void AddConstant_NonNumericType_Throws(TensorElementType type)
    {
        Assert.Throws<ArgumentException>(() => SampleModels.AddConstant(type, 1));
    }

    private static ModelBuilder TinyMlp(bool softmax) =>
        SampleModels.Mlp(new float[,] { { 1, -1, 0.5f }, { 0.25f, 2, -3 } }, [0.1f, 0.2f, 0.3f], new float[,] { { 1, 0 }, { 0, 1 }, { 1, 1 } }, [0, 1], softmax);

    private static ModelProto RoundTrip(ModelBuilder builder)
    {
        var built = builder.Build();
        var parsed = OnnxModel.Parse(built.ToByteArray());
        Assert.Equal(built, parsed);
        return parsed;
    }
}
