using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Tests.Model;

public sealed class ExternalDataReferencesTests
{
    [Fact]
    public void ExternalDataReferences_ModelWithEmbeddedWeights_IsEmpty()
    {
        var model = SampleModels.Mlp(new float[2, 3], new float[3], new float[3, 2], new float[2]).Build();

        Assert.Empty(OnnxModel.ExternalDataReferences(model));
    }

    [Fact]
    public void ExternalDataReferences_ExternalInitializer_ListsItsNameAndLocation()
    {
        var model = WithInitializer(ExternalTensor("weights", "../../etc/passwd")).Build();

        var reference = Assert.Single(OnnxModel.ExternalDataReferences(model));

        Assert.Equal(new ExternalDataReference("weights", "../../etc/passwd"), reference);
    }

    [Fact]
    public void ExternalDataReferences_EntryWithoutLocation_IsListedWithAnEmptyLocation()
    {
        var tensor = ExternalTensor("weights", "weights.bin");
        tensor.ExternalData.RemoveAt(0);

        var reference = Assert.Single(OnnxModel.ExternalDataReferences(WithInitializer(tensor).Build()));

        Assert.Equal("", reference.Location);
    }

    [Fact]
    public void ExternalDataReferences_LocationWithoutDataLocationFlag_IsStillListed()
    {
        var tensor = ExternalTensor("weights", "weights.bin");
        tensor.ClearDataLocation();

        var reference = Assert.Single(OnnxModel.ExternalDataReferences(WithInitializer(tensor).Build()));

        Assert.Equal("weights.bin", reference.Location);
    }

    [Fact]
    public void ExternalDataReferences_SearchesSparseInitializersAttributesAndSubgraphs()
    {
        var subgraph = new GraphProto { Name = "then_branch" };
        subgraph.Initializer.Add(ExternalTensor("in_subgraph", "sub.bin"));
        subgraph.Node.Add(new NodeProto { OpType = "Constant", Output = { "c" }, Attribute = { OnnxAttribute.Tensor("value", ExternalTensor("in_sub_attribute", "sub_attr.bin")) } });

        var graph = new GraphProto { Name = "main" };
        graph.SparseInitializer.Add(new SparseTensorProto { Values = ExternalTensor("sparse_values", "values.bin"), Indices = ExternalTensor("sparse_indices", "indices.bin") });
        graph.Node.Add(new NodeProto { OpType = "Constant", Output = { "k" }, Attribute = { OnnxAttribute.Tensor("value", ExternalTensor("in_attribute", "attr.bin")) } });
        graph.Node.Add(new NodeProto { OpType = "If", Input = { "cond" }, Output = { "y" }, Attribute = { OnnxAttribute.Graph("then_branch", subgraph) } });
        var model = new ModelProto { IrVersion = 8, Graph = graph };

        var locations = OnnxModel.ExternalDataReferences(model).Select(r => r.Location);

        Assert.Equal(["values.bin", "indices.bin", "attr.bin", "sub.bin", "sub_attr.bin"], locations);
    }

    [Fact]
    public void ExternalDataReferences_SurviveASerializationRoundTrip()
    {
        var bytes = OnnxModel.ToBytes(WithInitializer(ExternalTensor("weights", "weights.bin")).Build());

        var reference = Assert.Single(OnnxModel.ExternalDataReferences(OnnxModel.Parse(bytes)));

        Assert.Equal("weights.bin", reference.Location);
    }

    private static ModelBuilder WithInitializer(TensorProto tensor) =>
        new ModelBuilder("external")
            .Input("input", TensorElementType.Float, 4)
            .Initializer(tensor)
            .Node("Add", ["input", tensor.Name], ["output"])
            .Output("output", TensorElementType.Float, 4);

    private static TensorProto ExternalTensor(string name, string location) => new()
    {
        Name = name,
        DataType = (int)TensorElementType.Float,
        Dims = { 4 },
        DataLocation = TensorProto.Types.DataLocation.External,
        ExternalData =
        {
            new StringStringEntryProto { Key = "location", Value = location },
            new StringStringEntryProto { Key = "offset", Value = "0" },
            new StringStringEntryProto { Key = "length", Value = "16" },
        },
    };
}
