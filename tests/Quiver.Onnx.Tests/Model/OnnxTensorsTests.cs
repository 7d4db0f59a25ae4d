using Google.Protobuf;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Tests.Model;

public sealed class OnnxTensorsTests
{
    [Fact]
    public void Create_Float16_WritesTwoLittleEndianBytesPerElement()
    {
        var tensor = OnnxTensors.Create<Half>("h", [(Half)1, (Half)(-2), (Half)0.5], [3]);

        Assert.Equal((int)TensorElementType.Float16, tensor.DataType);
        Assert.Equal([3L], tensor.Dims);
        // IEEE binary16: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800.
        Assert.Equal(new byte[] { 0x00, 0x3C, 0x00, 0xC0, 0x00, 0x38 }, tensor.RawData.ToByteArray());
        Assert.Empty(tensor.Int32Data);
    }

    [Fact]
    public void Create_Float_WritesIeeeLittleEndianRawData()
    {
        var tensor = OnnxTensors.Create<float>("f", [1f, -0.5f], [1, 2]);

        Assert.Equal(new byte[] { 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xBF }, tensor.RawData.ToByteArray());
        Assert.Equal([1L, 2L], tensor.Dims);
        Assert.Empty(tensor.FloatData);
    }

    [Fact]
    public void Create_Int64_WritesEightBytesPerElement()
    {
        var tensor = OnnxTensors.Create<long>("l", [1L, -1L], [2]);

        Assert.Equal((int)TensorElementType.Int64, tensor.DataType);
        Assert.Equal(new byte[] { 1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, tensor.RawData.ToByteArray());
    }

    [Fact]
    public void Create_Bool_WritesOneByteZeroOrOne()
    {
        var tensor = OnnxTensors.Create<bool>("b", [true, false, true], [3]);

        Assert.Equal((int)TensorElementType.Bool, tensor.DataType);
        Assert.Equal(new byte[] { 1, 0, 1 }, tensor.RawData.ToByteArray());
    }

    [Fact]
    public void Create_Strings_UsesStringDataInUtf8AndNoRawData()
    {
        var tensor = OnnxTensors.Create("s", ["héllo", ""], [2]);

        Assert.Equal((int)TensorElementType.String, tensor.DataType);
        Assert.False(tensor.HasRawData);
        Assert.Equal([ByteString.CopyFromUtf8("héllo"), ByteString.Empty], tensor.StringData);
        Assert.Equal(["héllo", ""], OnnxTensors.ToStrings(tensor));
    }

    [Fact]
    public void CreateBFloat16_RoundsToNearestEven()
    {
        // 1 + 2^-8 is halfway between bfloat16 1.0 (0x3F80) and the next value: ties go to the even 0x3F80.
        // 1 + 3·2^-8 is halfway between 0x3F81 and 0x3F82: ties go to the even 0x3F82.
        var tensor = OnnxTensors.CreateBFloat16("bf", [1f, 1f + (1f / 256), 1f + (3f / 256), -2f], [4]);

        Assert.Equal((int)TensorElementType.BFloat16, tensor.DataType);
        Assert.Equal(new byte[] { 0x80, 0x3F, 0x80, 0x3F, 0x82, 0x3F, 0x00, 0xC0 }, tensor.RawData.ToByteArray());
        Assert.Equal([1f, 1f, 1f + (1f / 64), -2f], OnnxTensors.ToBFloat16AsSingles(tensor));
    }

    [Fact]
    public void Create_ValuesNotMatchingDims_Throws()
    {
        var error = Assert.Throws<ArgumentException>(() => OnnxTensors.Create<int>("t", [1, 2, 3], [2, 2]));

        Assert.Contains("'t'", error.Message);
    }

    [Theory]
    [InlineData(TensorElementType.Float, 4)]
    [InlineData(TensorElementType.Float16, 2)]
    [InlineData(TensorElementType.BFloat16, 2)]
    [InlineData(TensorElementType.Double, 8)]
    [InlineData(TensorElementType.Bool, 1)]
    [InlineData(TensorElementType.UInt64, 8)]
    public void ElementSize_MatchesTheSpecification(TensorElementType type, int size)
    {
        Assert.Equal(size, OnnxTensors.ElementSize(type));
    }

    [Fact]
    public void ToArray_EveryNumericType_RoundTrips()
    {
        RoundTrip<float>([1.5f, float.MinValue]);
        RoundTrip<double>([2.25, double.Epsilon]);
        RoundTrip<Half>([(Half)3, Half.MaxValue]);
        RoundTrip<sbyte>([-128, 127]);
        RoundTrip<byte>([0, 255]);
        RoundTrip<short>([short.MinValue, 5]);
        RoundTrip<ushort>([ushort.MaxValue, 5]);
        RoundTrip<int>([int.MinValue, 5]);
        RoundTrip<uint>([uint.MaxValue, 5]);
        RoundTrip<long>([long.MinValue, 5]);
        RoundTrip<ulong>([ulong.MaxValue, 5]);
        RoundTrip<bool>([true, false]);

        static void RoundTrip<T>(T[] values)
            where T : unmanaged
        {
            var tensor = OnnxTensors.Create<T>("t", values, [values.Length]);
            var parsed = TensorProto.Parser.ParseFrom(tensor.ToByteArray());
            Assert.Equal(OnnxTensors.ElementTypeOf<T>(), OnnxTensors.ElementTypeOf(parsed));
            Assert.Equal(values, OnnxTensors.ToArray<T>(parsed));
        }
    }

    [Fact]
    public void ToArray_TypedFields_AreReadLikeRawData()
    {
        var floats = new TensorProto { Name = "f", DataType = (int)TensorElementType.Float, Dims = { 2 }, FloatData = { 1f, 2f } };
        var halves = new TensorProto { Name = "h", DataType = (int)TensorElementType.Float16, Dims = { 1 }, Int32Data = { 0x3C00 } };
        var bytes = new TensorProto { Name = "i8", DataType = (int)TensorElementType.Int8, Dims = { 2 }, Int32Data = { -1, 7 } };
        var longs = new TensorProto { Name = "l", DataType = (int)TensorElementType.Int64, Dims = { 1 }, Int64Data = { -3 } };
        var uints = new TensorProto { Name = "u", DataType = (int)TensorElementType.UInt32, Dims = { 1 }, Uint64Data = { 4000000000 } };
        var doubles = new TensorProto { Name = "d", DataType = (int)TensorElementType.Double, Dims = { 1 }, DoubleData = { 0.125 } };

        Assert.Equal([1f, 2f], OnnxTensors.ToArray<float>(floats));
        Assert.Equal([(Half)1], OnnxTensors.ToArray<Half>(halves));
        Assert.Equal([(sbyte)-1, (sbyte)7], OnnxTensors.ToArray<sbyte>(bytes));
        Assert.Equal([-3L], OnnxTensors.ToArray<long>(longs));
        Assert.Equal([4000000000u], OnnxTensors.ToArray<uint>(uints));
        Assert.Equal([0.125], OnnxTensors.ToArray<double>(doubles));
    }

    [Fact]
    public void ToArray_WrongClrType_ThrowsNamingBothTypes()
    {
        var tensor = OnnxTensors.Create<int>("ints", [1], [1]);

        var error = Assert.Throws<InvalidOperationException>(() => OnnxTensors.ToArray<float>(tensor));

        Assert.Contains("Int32", error.Message);
        Assert.Contains("Float", error.Message);
    }

    [Fact]
    public void ToRawData_ExternalData_ThrowsNotSupported()
    {
        var tensor = new TensorProto
        {
            Name = "big",
            DataType = (int)TensorElementType.Float,
            DataLocation = TensorProto.Types.DataLocation.External,
            ExternalData = { new StringStringEntryProto { Key = "location", Value = "weights.bin" } },
        };

        Assert.Throws<NotSupportedException>(() => OnnxTensors.ToRawData(tensor));
    }
}
