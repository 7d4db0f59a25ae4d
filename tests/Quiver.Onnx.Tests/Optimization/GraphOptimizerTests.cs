using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;
using Quiver.Onnx.Optimization;

namespace Quiver.Onnx.Tests.Optimization;

public sealed class GraphOptimizerTests
{
    [Fact]
    public void Optimize_ExtendedOnAConvNet_FusesConvAndReluAndStillAgrees()
    {
        ModelProto model = ConvRelu();

        OptimizationResult result = GraphOptimizer.Optimize(model, GraphOptimizationLevel.Extended);

        Assert.True(result.IsChanged);
        Assert.DoesNotContain(result.Model.Graph.Node, n => n.OpType == "Relu");
        Assert.Contains(result.Warnings, w => w.Contains("ONNX Runtime"));
        float[] x = OptimizationModels.Inputs(2 * 3 * 8 * 8, seed: 1);
        float[] expected = OptimizationModels.Run(model, "x", [2, 3, 8, 8], x);
        float[] actual = OptimizationModels.Run(result.Model, "x", [2, 3, 8, 8], x);
        Assert.InRange(OptimizationModels.MaxAbsDifference(expected, actual), 0, 1e-4f);
    }

    [Fact]
    public void Optimize_BasicFoldsConstantSubgraphs()
    {
        ModelProto model = new ModelBuilder("foldable")
            .Input("x", TensorElementType.Float, "batch", 2)
            .Initializer("a", [1f, 2f])
            .Initializer("b", [3f, 4f])
            .Node("Add", ["a", "b"], ["sum"])
            .Node("Mul", ["x", "sum"], ["y"])
            .Output("y", TensorElementType.Float, "batch", 2)
            .Build();

        OptimizationResult result = GraphOptimizer.Optimize(model, GraphOptimizationLevel.Basic);

        Assert.Equal(["Mul"], result.Model.Graph.Node.Select(n => n.OpType));
        Assert.Equal([4f, 12f], OptimizationModels.Run(result.Model, "x", [1, 2], [1f, 2f]));
    }

    [Fact]
    public void Optimize_NothingToDo_ReturnsTheSameModel()
    {
        ModelProto model = SampleModels.AddConstant(TensorElementType.Float, 1).Build();

        OptimizationResult result = GraphOptimizer.Optimize(model, GraphOptimizationLevel.Basic);

        Assert.False(result.IsChanged);
        Assert.Same(model, result.Model);
    }

    private static ModelProto ConvRelu() =>
        new ModelBuilder("conv")
            .Input("x", TensorElementType.Float, "batch", 3, 8, 8)
            .Initializer("w", OptimizationModels.Inputs(4 * 3 * 3 * 3, seed: 2), 4, 3, 3, 3)
            .Initializer("b", OptimizationModels.Vector(4, seed: 3))
            .Node("Conv", ["x", "w", "b"], ["c"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("pads", 1, 1, 1, 1))
            .Node("Relu", ["c"], ["y"])
            .Output("y", TensorElementType.Float, "batch", 4, 8, 8)
            .Build();
}
