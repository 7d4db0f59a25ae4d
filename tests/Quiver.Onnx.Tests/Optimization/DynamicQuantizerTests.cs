using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;
using Quiver.Onnx.Optimization;

namespace Quiver.Onnx.Tests.Optimization;

/// <summary>
/// The quantized graphs run in real ONNX Runtime and agree with the float originals. Tolerance: the largest output
/// difference stays under 3% of the largest output magnitude, for inputs in [-1, 1) and He-initialised weights;
/// an 8-bit step is 1/127 ≈ 0.8% of a range, and two quantized operands per layer over two layers stay well inside 3%.
/// </summary>
public sealed class DynamicQuantizerTests
{
    private const float RelativeTolerance = 0.03f;

    public static TheoryData<bool, bool> Schemes => new() { { false, true }, { true, true }, { false, false }, { true, false } };

    [Theory]
    [MemberData(nameof(Schemes))]
    public void Quantize_Mlp_RunsInOnnxRuntimeAndAgreesWithTheFloatModel(bool perChannel, bool symmetric)
    {
        ModelProto model = OptimizationModels.Mlp();

        OptimizationResult result = DynamicQuantizer.Quantize(model, new DynamicQuantizationOptions { PerChannel = perChannel, Symmetric = symmetric });

        Assert.Equal(["gemm_0", "gemm_1"], result.Changed);
        AssertAgrees(model, result.Model, inputs: 32, batch: 16);
    }

    [Fact]
    public void Quantize_Mlp_WritesTheStandardDynamicQuantizationPattern()
    {
        OptimizationResult result = DynamicQuantizer.Quantize(OptimizationModels.Mlp());

        GraphProto graph = result.Model.Graph;
        Assert.Equal(
            ["DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul", "Add", "Relu",
             "DynamicQuantizeLinear", "MatMulInteger", "Cast", "Mul", "Mul", "Add"],
            graph.Node.Select(n => n.OpType));
        Assert.Empty(GraphWiring.Check(graph));
        Assert.DoesNotContain(graph.Initializer, t => t.Name is "w1" or "w2");
        TensorProto w1 = graph.Initializer.Single(t => t.Name == "w1_quantized");
        Assert.Equal((int)TensorElementType.Int8, w1.DataType);
        Assert.Equal([32L, 64L], w1.Dims);
        // Biases stay float and are added after the rescale.
        Assert.Equal((int)TensorElementType.Float, graph.Initializer.Single(t => t.Name == "b1").DataType);
        Assert.Equal(["input"], graph.Input.Select(i => i.Name));
        Assert.Equal(["logits"], graph.Output.Select(o => o.Name));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Quantize_Mlp_OnnxRuntimeFusesItIntoDynamicQuantizeMatMul(bool perChannel)
    {
        OptimizationResult result = DynamicQuantizer.Quantize(OptimizationModels.Mlp(), new DynamicQuantizationOptions { PerChannel = perChannel });

        IReadOnlyList<string> ops = OptimizationModels.OptimizedOpTypes(result.Model, GraphOptimizationLevel.Extended);

        // One fused int8 kernel per layer, with the bias folded in: the fast path of ORT's CPU provider.
        Assert.Equal(2, ops.Count(op => op == "DynamicQuantizeMatMul"));
        Assert.DoesNotContain("MatMulInteger", ops);
        Assert.DoesNotContain("Add", ops);
    }

    [Fact]
    public void Quantize_Smaller_WeightsTakeAQuarterOfTheBytes()
    {
        ModelProto model = OptimizationModels.Mlp(inputs: 256, hidden: 512, outputs: 10);

        OptimizationResult result = DynamicQuantizer.Quantize(model);

        Assert.InRange(OnnxModel.ToBytes(result.Model).Length, 0, OnnxModel.ToBytes(model).Length * 0.3);
    }

    [Fact]
    public void Quantize_GemmWithTransBAlphaAndBeta_AgreesWithTheFloatModel()
    {
        float[,] w = OptimizationModels.Matrix(24, 16, seed: 7); // [N, K] because transB = 1
        ModelProto model = new ModelBuilder("gemm")
            .Input("x", TensorElementType.Float, "batch", 16)
            .Initializer("w", w)
            .Initializer("c", OptimizationModels.Vector(24, 8))
            .Node("Gemm", ["x", "w", "c"], ["y"], OnnxAttribute.Int("transB", 1), OnnxAttribute.Float("alpha", 0.5f), OnnxAttribute.Float("beta", 2f))
            .Output("y", TensorElementType.Float, "batch", 24)
            .Build();

        OptimizationResult result = DynamicQuantizer.Quantize(model, new DynamicQuantizationOptions { PerChannel = true });

        Assert.Single(result.Changed);
        AssertAgrees(model, result.Model, inputs: 16, batch: 4, input: "x");
    }

    [Fact]
    public void Quantize_MatMulOnThreeDimensionalActivations_AgreesWithTheFloatModel()
    {
        ModelProto model = new ModelBuilder("attention_projection")
            .Input("x", TensorElementType.Float, "batch", 5, 16)
            .Initializer("w", OptimizationModels.Matrix(16, 12, seed: 3))
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorElementType.Float, "batch", 5, 12)
            .Build();

        OptimizationResult result = DynamicQuantizer.Quantize(model);

        float[] x = OptimizationModels.Inputs(2 * 5 * 16, seed: 4);
        float[] expected = OptimizationModels.Run(model, "x", [2, 5, 16], x);
        float[] actual = OptimizationModels.Run(result.Model, "x", [2, 5, 16], x);
        Assert.InRange(OptimizationModels.MaxAbsDifference(expected, actual), 0, RelativeTolerance * OptimizationModels.MaxAbs(expected));
    }

    [Fact]
    public void Quantize_WeightSharedWithAnUnquantizedNode_KeepsTheFloatWeightForIt()
    {
        ModelProto model = new ModelBuilder("shared")
            .Input("x", TensorElementType.Float, 4, 4)
            .Initializer("w", OptimizationModels.Matrix(4, 4, seed: 1))
            .Node("MatMul", ["x", "w"], ["y"])
            .Node("Add", ["y", "w"], ["z"])
            .Output("z", TensorElementType.Float, 4, 4)
            .Build();

        OptimizationResult result = DynamicQuantizer.Quantize(model);

        Assert.Contains(result.Model.Graph.Initializer, t => t.Name == "w");
        AssertAgrees(model, result.Model, inputs: 4, batch: 4, input: "x");
    }

    [Fact]
    public void Quantize_WeightUsedByTwoMatMuls_IsQuantizedOnce()
    {
        ModelProto model = new ModelBuilder("tied")
            .Input("x", TensorElementType.Float, "batch", 8)
            .Initializer("w", OptimizationModels.Matrix(8, 8, seed: 1))
            .Node("MatMul", ["x", "w"], ["h"])
            .Node("MatMul", ["h", "w"], ["y"])
            .Output("y", TensorElementType.Float, "batch", 8)
            .Build();

        OptimizationResult result = DynamicQuantizer.Quantize(model);

        Assert.Equal(2, result.Changed.Count);
        Assert.Single(result.Model.Graph.Initializer, t => t.DataType == (int)TensorElementType.Int8 && t.Dims.Count == 2);
        AssertAgrees(model, result.Model, inputs: 8, batch: 3, input: "x");
    }

    [Fact]
    public void Quantize_ExcludedOpTypeAndNode_AreSkippedWithTheReason()
    {
        ModelProto model = OptimizationModels.Mlp();

        OptimizationResult byType = DynamicQuantizer.Quantize(model, new DynamicQuantizationOptions { ExcludeOpTypes = ["Gemm"] });
        OptimizationResult byName = DynamicQuantizer.Quantize(model, new DynamicQuantizationOptions { ExcludeNodes = ["gemm_1", "no_such_node"] });

        Assert.False(byType.IsChanged);
        Assert.Same(model, byType.Model);
        Assert.All(byType.Skipped, s => Assert.Contains("excluded", s.Reason));
        Assert.Equal(["gemm_0"], byName.Changed);
        Assert.Equal("gemm_1", Assert.Single(byName.Skipped).Node);
        Assert.Contains("no_such_node", Assert.Single(byName.Warnings));
        Assert.Equal(1, byName.Model.Graph.Node.Count(n => n.OpType == "Gemm"));
    }

    [Fact]
    public void Quantize_NothingQuantizable_ReturnsTheSameModelUnchanged()
    {
        ModelProto model = SampleModels.AddConstant(TensorElementType.Float, 1).Build();

        OptimizationResult result = DynamicQuantizer.Quantize(model);

        Assert.False(result.IsChanged);
        Assert.Same(model, result.Model);
        Assert.Empty(result.Skipped);
    }

    [Fact]
    public void Quantize_WeightThatIsAGraphInput_IsSkippedAsNotConstant()
    {
        ModelProto model = new ModelBuilder("overridable")
            .Input("x", TensorElementType.Float, 2, 2)
            .Input("w", TensorElementType.Float, 2, 2)
            .Initializer("w", new float[,] { { 1, 2 }, { 3, 4 } })
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorElementType.Float, 2, 2)
            .Build();

        OptimizationResult result = DynamicQuantizer.Quantize(model);

        Assert.False(result.IsChanged);
        Assert.Contains("not a constant initializer", Assert.Single(result.Skipped).Reason);
    }

    [Fact]
    public void Quantize_OpsetBefore11_SkipsEveryCandidateNamingTheOpset()
    {
        ModelProto model = OptimizationModels.Mlp();
        model.OpsetImport[0].Version = 10;

        OptimizationResult result = DynamicQuantizer.Quantize(model);

        Assert.False(result.IsChanged);
        Assert.Equal(2, result.Skipped.Count);
        Assert.All(result.Skipped, s => Assert.Contains("opset 10", s.Reason));
    }

    [Fact]
    public void Quantize_ExternalData_ThrowsNamingTheTensorAndFile()
    {
        ModelProto model = OptimizationModels.Mlp();
        TensorProto w1 = model.Graph.Initializer.Single(t => t.Name == "w1");
        w1.ClearRawData();
        w1.DataLocation = TensorProto.Types.DataLocation.External;
        w1.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });

        var e = Assert.Throws<ModelOptimizationException>(() => DynamicQuantizer.Quantize(model));

        Assert.Contains("'w1' in 'weights.bin'", e.Message);
    }

    [Fact]
    public void Quantize_DoesNotModifyTheInputModel()
    {
        ModelProto model = OptimizationModels.Mlp();
        byte[] before = OnnxModel.ToBytes(model);

        DynamicQuantizer.Quantize(model);

        Assert.Equal(before, OnnxModel.ToBytes(model));
    }

    private static void AssertAgrees(ModelProto original, ModelProto quantized, int inputs, int batch, string input = "input")
    {
        float[] x = OptimizationModels.Inputs(batch * inputs, seed: 99);
        float[] expected = OptimizationModels.Run(original, input, [batch, inputs], x);
        float[] actual = OptimizationModels.Run(quantized, input, [batch, inputs], x);
        float difference = OptimizationModels.MaxAbsDifference(expected, actual);
        Assert.True(difference <= RelativeTolerance * OptimizationModels.MaxAbs(expected),
            $"max abs difference {difference} over {RelativeTolerance:P0} of max |output| {OptimizationModels.MaxAbs(expected)}");
        Assert.NotEqual(expected, actual); // it really did run quantized
    }
}
