namespace Quiver.Onnx.Tests.Runtime;

public sealed class TensorValueTests
{
    [Fact]
    public void FromArray_CopiesTheElementsAsLittleEndianBytes()
    {
        int[] data = [1, -2];

        TensorValue value = TensorValue.FromArray([2L], data);
        data[0] = 99;

        Assert.Equal(TensorElementType.Int32, value.ElementType);
        Assert.Equal([1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff], value.Data.ToArray());
        Assert.Equal(2, value.ElementCount);
    }

    [Fact]
    public void FromBytes_WrongLength_SaysHowManyBytesTheShapeNeeds()
    {
        var error = Assert.Throws<ArgumentException>(() => TensorValue.FromBytes(TensorElementType.Float, [2, 3], new byte[20]));

        Assert.Contains("24 bytes", error.Message);
    }

    [Fact]
    public void FromBytes_NegativeDimension_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => TensorValue.FromBytes(TensorElementType.Float, [-1], Array.Empty<byte>()));
    }

    [Fact]
    public void FromBytes_StringType_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => TensorValue.FromBytes(TensorElementType.String, [1], new byte[1]));
    }

    [Fact]
    public void FromStrings_CountMustMatchTheShape()
    {
        Assert.Throws<ArgumentException>(() => TensorValue.FromStrings([3], ["a", "b"]));
    }

    [Fact]
    public void FromStrings_EncodesUtf8AndDecodesBack()
    {
        TensorValue value = TensorValue.FromStrings([2], ["é", ""]);

        Assert.Equal([[0xc3, 0xa9], []], value.Strings!);
        Assert.Equal(["é", ""], value.GetStrings());
    }

    [Fact]
    public void AsSpan_OfTheWrongSize_Throws()
    {
        TensorValue value = TensorValue.FromArray([1L], new[] { 1.0 });

        Assert.Throws<InvalidOperationException>(() => value.AsSpan<float>().ToArray());
        Assert.Throws<InvalidOperationException>(() => TensorValue.FromStrings([1], ["x"]).AsSpan<byte>().ToArray());
        Assert.Throws<InvalidOperationException>(() => value.GetStrings());
    }

    [Fact]
    public void Scalar_HasOneElement()
    {
        Assert.Equal(1, TensorValue.FromArray([], new[] { 5L }).ElementCount);
    }
}
