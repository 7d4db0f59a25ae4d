using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;
using Quiver.Onnx.Optimization;

namespace Quiver.Onnx.Tests.Optimization;

/// <summary>
/// Float16 graphs run in real ONNX Runtime (the CPU provider casts around its missing float16 kernels) and agree with
/// the originals: the largest difference stays under 1% of the largest output magnitude, about eight float16 steps
/// (2⁻¹¹ ≈ 0.05% each) accumulated over two layers of 32- and 64-term sums.
/// </summary>
public sealed class Fp16ConverterTests
{
    private const float RelativeTolerance = 0.01f;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Convert_Mlp_KeepsTheFloat32InterfaceAndAgreesWithTheOriginal(bool softmax)
    {
        ModelProto model = OptimizationModels.Mlp(softmax: softmax);

        OptimizationResult result = Fp16Converter.Convert(model);

        Assert.True(result.IsChanged);
        Assert.Equal((int)TensorElementType.Float, result.Model.Graph.Input[0].Type.TensorType.ElemType);
        Assert.Equal((int)TensorElementType.Float, result.Model.Graph.Output[0].Type.TensorType.ElemType);
        Assert.All(result.Model.Graph.Initializer, t => Assert.Equal((int)TensorElementType.Float16, t.DataType));
        Assert.Empty(GraphWiring.Check(result.Model.Graph));
        AssertAgrees(model, result.Model);
    }

    [Fact]
    public void Convert_Mlp_CastsAtTheBordersAndAroundTheBlockedSoftmax()
    {
        OptimizationResult result = Fp16Converter.Convert(OptimizationModels.Mlp(softmax: true));

        Assert.Equal(["Cast", "Gemm", "Relu", "Gemm", "Cast", "Softmax"], result.Model.Graph.Node.Select(n => n.OpType));
        Assert.Equal(["gemm_0", "relu_0", "gemm_1"], result.Changed);
        SkippedNode softmax = Assert.Single(result.Skipped);
        Assert.Equal("Softmax", softmax.OpType);
        Assert.Contains("block-list", softmax.Reason);
        Assert.Equal((long)TensorElementType.Float16, result.Model.Graph.Node[0].Attribute.Single(a => a.Name == "to").I);
        Assert.Equal((long)TensorElementType.Float, result.Model.Graph.Node[4].Attribute.Single(a => a.Name == "to").I);
    }

    [Fact]
    public void Convert_EmptyBlockList_ConvertsSoftmaxToo()
    {
        ModelProto model = OptimizationModels.Mlp(softmax: true);

        OptimizationResult result = Fp16Converter.Convert(model, new Fp16Options { BlockedOpTypes = [] });

        Assert.Empty(result.Skipped);
        Assert.Equal("Cast", result.Model.Graph.Node[^1].OpType);
        AssertAgrees(model, result.Model);
    }

    [Fact]
    public void Convert_OutputAlsoReadInside_WritesAFloat16TwinAndCastsTheOutputBack()
    {
        ModelProto model = new ModelBuilder("twin")
            .Input("x", TensorElementType.Float, "batch", 4)
            .Initializer("w", OptimizationModels.Matrix(4, 4, seed: 5))
            .Node("MatMul", ["x", "w"], ["hidden"])
            .Node("Relu", ["hidden"], ["activated"])
            .Node("Cast", ["activated"], ["as_int"], OnnxAttribute.Int("to", (long)TensorElementType.Int64))
            .Node("Cast", ["as_int"], ["back"], OnnxAttribute.Int("to", (long)TensorElementType.Float))
            .Node("Add", ["back", "hidden"], ["y"])
            .Output("hidden", TensorElementType.Float, "batch", 4)
            .Output("y", TensorElementType.Float, "batch", 4)
            .Build();

        OptimizationResult result = Fp16Converter.Convert(model);

        NodeProto toFloat = result.Model.Graph.Node.Single(n => n.Output[0] == "back");
        Assert.Equal((long)TensorElementType.Float16, toFloat.Attribute.Single().I);
        AssertAgrees(model, result.Model, input: "x", inputs: 4);
    }

    [Fact]
    public void Convert_ValueInfoOfAConvertedValue_IsDeclaredFloat16()
    {
        ModelProto model = new ModelBuilder("declared")
            .Input("x", TensorElementType.Float, "batch", 4)
            .Initializer("w", OptimizationModels.Matrix(4, 4, seed: 5))
            .Node("MatMul", ["x", "w"], ["hidden"])
            .ValueInfo("hidden", TensorElementType.Float, "batch", 4)
            .Node("Relu", ["hidden"], ["y"])
            .Output("y", TensorElementType.Float, "batch", 4)
            .Build();

        OptimizationResult result = Fp16Converter.Convert(model);

        Assert.Equal((int)TensorElementType.Float16, result.Model.Graph.ValueInfo.Single().Type.TensorType.ElemType);
        AssertAgrees(model, result.Model, input: "x", inputs: 4);
    }

    [Fact]
    public void Convert_ResizeScales_StayFloat32AsTheSpecificationRequires()
    {
        ModelProto model = new ModelBuilder("upscale")
            .Input("x", TensorElementType.Float, 1, 1, 2, 2)
            .Initializer("scales", [1f, 1f, 2f, 2f])
            .Node("Resize", ["x", "", "scales"], ["y"], OnnxAttribute.String("mode", "nearest"))
            .Output("y", TensorElementType.Float, 1, 1, 4, 4)
            .Build();

        OptimizationResult result = Fp16Converter.Convert(model);

        NodeProto resize = result.Model.Graph.Node.Single(n => n.OpType == "Resize");
        NodeProto scalesCast = result.Model.Graph.Node.Single(n => n.Output[0] == resize.Input[2]);
        Assert.Equal((long)TensorElementType.Float, scalesCast.Attribute.Single().I);
        float[] y = OptimizationModels.Run(result.Model, "x", [1, 1, 2, 2], [1f, 2f, 3f, 4f]);
        Assert.Equal([1f, 1f, 2f, 2f, 1f, 1f, 2f, 2f, 3f, 3f, 4f, 4f, 3f, 3f, 4f, 4f], y);
    }

    [Fact]
    public void Convert_WeightBeyondTheFloat16Range_IsClampedWithAWarning()
    {
        ModelProto model = SampleModels.AddConstant(TensorElementType.Float, 1e6, "batch").Build();

        OptimizationResult result = Fp16Converter.Convert(model);

        Assert.Contains("clamped", Assert.Single(result.Warnings));
        float[] y = OptimizationModels.Run(result.Model, "input", [1], [0f]);
        Assert.Equal(Fp16Converter.MaxHalf, y[0]);
    }

    [Fact]
    public void Convert_NoFloats_ReturnsTheSameModel()
    {
        ModelProto model = SampleModels.MultiInputOutput().Build();

        OptimizationResult result = Fp16Converter.Convert(model);

        Assert.False(result.IsChanged);
        Assert.Same(model, result.Model);
    }

    [Fact]
    public void Convert_Subgraph_IsRefusedNamingTheNode()
    {
        // A branch reading the outer value "x": the kind of reference conversion would break.
        var branch = new GraphProto { Name = "branch" };
        branch.Node.Add(new NodeProto { OpType = "Identity", Input = { "x" }, Output = { "out" } });
        branch.Output.Add(OnnxTypes.ValueInfo("out", OnnxTypes.Tensor(TensorElementType.Float, [1])));
        ModelProto model = new ModelBuilder("control")
            .Input("x", TensorElementType.Float, 1)
            .Input("flag", TensorElementType.Bool)
            .Node("If", ["flag"], ["y"], OnnxAttribute.Graph("then_branch", branch), OnnxAttribute.Graph("else_branch", branch))
            .Output("y", TensorElementType.Float, 1)
            .Build();

        var e = Assert.Throws<ModelOptimizationException>(() => Fp16Converter.Convert(model));

        Assert.Contains("If node 'if_0'", e.Message);
    }

    private static void AssertAgrees(ModelProto original, ModelProto converted, string input = "input", int inputs = 32)
    {
        float[] x = OptimizationModels.Inputs(8 * inputs, seed: 11);
        float[] expected = OptimizationModels.Run(original, input, [8, inputs], x);
        float[] actual = OptimizationModels.Run(converted, input, [8, inputs], x);
        float difference = OptimizationModels.MaxAbsDifference(expected, actual);
        Assert.True(difference <= RelativeTolerance * OptimizationModels.MaxAbs(expected),
            $"max abs difference {difference} over {RelativeTolerance:P0} of max |output| {OptimizationModels.MaxAbs(expected)}");
    }
}
