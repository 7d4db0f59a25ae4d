using Google.Protobuf;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Tests.Model;

public sealed class ModelBuilderTests
{
    private static ModelBuilder Doubler() =>
        new ModelBuilder("doubler")
            .Input("x", TensorElementType.Float, "batch", 4)
            .Initializer("two", [2f])
            .Node("Mul", ["x", "two"], ["y"])
            .Output("y", TensorElementType.Float, "batch", 4);

    [Fact]
    public void Build_WithoutSettings_WritesIrVersion8Opset17AndQuiverProducer()
    {
        var model = Doubler().Build();

        Assert.Equal(8, model.IrVersion);
        var opset = Assert.Single(model.OpsetImport);
        Assert.Equal("", opset.Domain);
        Assert.Equal(17, opset.Version);
        Assert.Equal("quiver", model.ProducerName);
        Assert.False(string.IsNullOrEmpty(model.ProducerVersion));
        Assert.Equal("doubler", model.Graph.Name);
    }

    [Fact]
    public void ToBytes_ParsedBack_EqualsBuiltModel()
    {
        var builder = Doubler()
            .Producer("tests", "2.1")
            .Domain("ai.quiver.tests")
            .ModelVersion(7)
            .DocString("doubles x")
            .Metadata("owner", "team-a");

        var parsed = ModelProto.Parser.ParseFrom(builder.ToBytes());

        Assert.Equal(builder.Build(), parsed);
        Assert.Equal("tests", parsed.ProducerName);
        Assert.Equal("2.1", parsed.ProducerVersion);
        Assert.Equal("ai.quiver.tests", parsed.Domain);
        Assert.Equal(7, parsed.ModelVersion);
        Assert.Equal("doubles x", parsed.DocString);
        Assert.Equal("team-a", OnnxModel.GetMetadata(parsed, "owner"));
    }

    [Fact]
    public void Input_WithSymbolicAndFixedDims_WritesDimParamAndDimValue()
    {
        var input = Doubler().Build().Graph.Input[0];

        var tensorType = input.Type.TensorType;
        Assert.Equal((int)TensorElementType.Float, tensorType.ElemType);
        Assert.Equal(TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam, tensorType.Shape.Dim[0].ValueCase);
        Assert.Equal("batch", tensorType.Shape.Dim[0].DimParam);
        Assert.Equal(TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue, tensorType.Shape.Dim[1].ValueCase);
        Assert.Equal(4, tensorType.Shape.Dim[1].DimValue);
        Assert.Equal([Dim.Named("batch"), Dim.Of(4)], OnnxTypes.DimsOf(input));
    }

    [Fact]
    public void Input_WithUnknownDim_WritesDimensionWithoutValue()
    {
        var model = new ModelBuilder()
            .Input("x", TensorElementType.Int32, Dim.Unknown, 2)
            .Node("Identity", ["x"], ["y"])
            .Output("y", TensorElementType.Int32, Dim.Unknown, 2)
            .Build();

        var dim = model.Graph.Input[0].Type.TensorType.Shape.Dim[0];
        Assert.Equal(TensorShapeProto.Types.Dimension.ValueOneofCase.None, dim.ValueCase);
    }

    [Fact]
    public void ImportOpset_ExtraDomains_AreWrittenAfterTheDefaultDomainInNameOrder()
    {
        var model = Doubler().ImportOpset("com.microsoft", 1).ImportOpset("ai.onnx.ml", 3).Opset(18).Build();

        Assert.Equal(
            [("", 18L), ("ai.onnx.ml", 3L), ("com.microsoft", 1L)],
            model.OpsetImport.Select(o => (o.Domain, o.Version)));
        Assert.Equal(18, OnnxModel.GetOpset(model));
        Assert.Equal(3, OnnxModel.GetOpset(model, "ai.onnx.ml"));
        Assert.Null(OnnxModel.GetOpset(model, "ai.onnx.training"));
    }

    [Fact]
    public void Metadata_SameKeyTwice_KeepsOneEntryWithTheLastValue()
    {
        var model = Doubler().Metadata("k", "old").Metadata("k", "new").Build();

        var entry = Assert.Single(model.MetadataProps);
        Assert.Equal("new", entry.Value);
    }

    [Fact]
    public void Node_WithAttributes_WritesTypedAttributesAndGeneratedNames()
    {
        var weights = OnnxTensors.Create<float>("w", [1f, 2f], [2]);
        var model = new ModelBuilder()
            .Input("x", TensorElementType.Float, 2)
            .Node("Identity", ["x"], ["a"])
            .Node("Identity", ["a"], ["b"],
                OnnxAttribute.Int("i", 3),
                OnnxAttribute.Float("f", 0.5f),
                OnnxAttribute.String("s", "text"),
                OnnxAttribute.Ints("is", 1, 2),
                OnnxAttribute.Floats("fs", 1.5f),
                OnnxAttribute.Tensor("t", weights))
            .Output("b", TensorElementType.Float, 2)
            .Build();

        Assert.Equal(["identity_0", "identity_1"], model.Graph.Node.Select(n => n.Name));
        var attributes = model.Graph.Node[1].Attribute.ToDictionary(a => a.Name);
        Assert.Equal(AttributeProto.Types.AttributeType.Int, attributes["i"].Type);
        Assert.Equal(3, attributes["i"].I);
        Assert.Equal(AttributeProto.Types.AttributeType.Float, attributes["f"].Type);
        Assert.Equal(0.5f, attributes["f"].F);
        Assert.Equal(AttributeProto.Types.AttributeType.String, attributes["s"].Type);
        Assert.Equal(ByteString.CopyFromUtf8("text"), attributes["s"].S);
        Assert.Equal(AttributeProto.Types.AttributeType.Ints, attributes["is"].Type);
        Assert.Equal([1L, 2L], attributes["is"].Ints);
        Assert.Equal(AttributeProto.Types.AttributeType.Floats, attributes["fs"].Type);
        Assert.Equal(AttributeProto.Types.AttributeType.Tensor, attributes["t"].Type);
        Assert.Equal(weights, attributes["t"].T);
    }

    [Fact]
    public void Initializer_Matrix_IsRowMajorWithRowsAndColumnsAsDims()
    {
        var model = Doubler().Initializer("m", new float[,] { { 1, 2, 3 }, { 4, 5, 6 } }).Build();

        var m = model.Graph.Initializer.Single(t => t.Name == "m");
        Assert.Equal([2L, 3L], m.Dims);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], OnnxTensors.ToArray<float>(m));
    }

    [Fact]
    public void Initializer_Vector_DefaultsToOneDimensionAndScalarHasNone()
    {
        var model = Doubler().Initializer("v", [1L, 2L, 3L]).ScalarInitializer("s", 9.5).Build();

        Assert.Equal([3L], model.Graph.Initializer.Single(t => t.Name == "v").Dims);
        var scalar = model.Graph.Initializer.Single(t => t.Name == "s");
        Assert.Empty(scalar.Dims);
        Assert.Equal([9.5], OnnxTensors.ToArray<double>(scalar));
    }

    [Fact]
    public void Build_WithBrokenWiring_ListsEveryError()
    {
        var builder = new ModelBuilder("broken")
            .Input("x", TensorElementType.Float, 1)
            .Node("Relu", ["missing"], ["y"])
            .Node("Relu", ["x"], ["y"])
            .Output("z", TensorElementType.Float, 1);

        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());

        Assert.Contains("reads 'missing'", error.Message);
        Assert.Contains("writes 'y', which is already defined", error.Message);
        Assert.Contains("output 'z' is not produced", error.Message);
    }

    [Fact]
    public void Build_CalledTwice_ReturnsIndependentModels()
    {
        var builder = Doubler();
        var first = builder.Build();

        first.Graph.Node.Clear();
        var second = builder.Build();

        Assert.Single(second.Graph.Node);
    }

    [Fact]
    public void Build_SameCalls_GiveIdenticalBytes()
    {
        Assert.Equal(Doubler().ToBytes(), Doubler().ToBytes());
    }
}
