using System.Runtime.InteropServices;
using System.Text;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Core.Tests.Storage;

/// <summary>Models and uploads for the storage tests.</summary>
internal static class StorageTestModels
{
    /// <summary>A producer name no other bytes in a store would contain by chance.</summary>
    public const string DistinctiveProducer = "quiver-storage-test-producer-5e1f0c";

    /// <summary>A small real model (an MLP, about 3 KB) with recognisable first-layer weights.</summary>
    public static ModelBuilder Mlp()
    {
        var w1 = new float[16, 32];
        for (var r = 0; r < 16; r++)
        {
            for (var c = 0; c < 32; c++)
            {
                w1[r, c] = 1000.25f + r + (c / 64f);
            }
        }

        return SampleModels.Mlp(w1, new float[32], new float[32, 8], new float[8]).Producer(DistinctiveProducer, "1.0");
    }

    /// <summary>The first 64 bytes of the model's w1 initializer as stored (little-endian floats).</summary>
    public static byte[] DistinctiveWeightBytes()
    {
        var w1 = Mlp().Build().Graph.Initializer.Single(i => i.Name == "w1");
        return MemoryMarshal.AsBytes(OnnxTensors.ToArray<float>(w1).AsSpan()).ToArray()[..64];
    }

    /// <summary>The distinctive producer name as it appears in the serialized model.</summary>
    public static byte[] DistinctiveProducerBytes() => Encoding.UTF8.GetBytes(DistinctiveProducer);

    /// <summary>A model whose only initializer keeps its data in an external file at <paramref name="location"/>.</summary>
    public static byte[] WithExternalData(string location)
    {
        var tensor = new TensorProto
        {
            Name = "weights",
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
        return new ModelBuilder("external")
            .Input("input", TensorElementType.Float, 4)
            .Initializer(tensor)
            .Node("Add", ["input", "weights"], ["output"])
            .Output("output", TensorElementType.Float, 4)
            .ToBytes();
    }
}
