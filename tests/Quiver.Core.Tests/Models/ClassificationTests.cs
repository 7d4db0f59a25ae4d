using System.Runtime.InteropServices;
using System.Text;
using Quiver.Core.Models;
using Quiver.Core.Tensors;

namespace Quiver.Core.Tests.Models;

public sealed class ClassificationTests
{
    private static InferenceTensor Scores(long[] shape, params float[] values) =>
        new("scores", DataType.Fp32, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static string[] Strings(InferenceTensor tensor) => tensor.Bytes!.Select(b => Encoding.UTF8.GetString(b)).ToArray();

    [Fact]
    public void TopK_PerRow_OrdersByScoreWithLabels()
    {
        InferenceTensor result = Classification.TopK(Scores([2, 3], 0.1f, 0.7f, 0.2f, 0.5f, 0.2f, 0.3f), 2, ["a", "b", "c"]);

        Assert.Equal(DataType.Bytes, result.DataType);
        Assert.Equal([2L, 2L], result.Shape);
        Assert.Equal(["0.7:1:b", "0.2:2:c", "0.5:0:a", "0.3:2:c"], Strings(result));
    }

    [Fact]
    public void TopK_WithoutLabels_GivesScoreAndIndex()
    {
        InferenceTensor result = Classification.TopK(Scores([3], 1f, 3f, 2f), 1, null);

        Assert.Equal([1L], result.Shape);
        Assert.Equal(["3:1"], Strings(result));
    }

    [Fact]
    public void TopK_MoreThanTheClasses_ReturnsEveryClass_TiesInClassOrder()
    {
        InferenceTensor result = Classification.TopK(Scores([1, 3], 0.5f, 0.5f, 0.9f), 10, null);

        Assert.Equal([1L, 3L], result.Shape);
        Assert.Equal(["0.9:2", "0.5:0", "0.5:1"], Strings(result));
    }

    [Fact]
    public void TopK_Int64Scores_AreSupported()
    {
        long[] values = [5, -2, 9];
        var tensor = new InferenceTensor("x", DataType.Int64, [3], MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

        Assert.Equal(["9:2", "5:0"], Strings(Classification.TopK(tensor, 2, null)));
    }

    [Theory]
    [InlineData(0L, DataType.Fp32, "at least 1")]
    [InlineData(2L, DataType.Bytes, "numeric output")]
    [InlineData("two", DataType.Fp32, "must be an integer")]
    public void Check_BadRequests_AreNamed(object count, DataType type, string message)
    {
        var output = new RequestedOutput("scores", new Parameters(new() { [Classification.ParameterName] = count }));

        string? error = Classification.Check(output, new TensorSpec("scores", type, [-1, 3]));

        Assert.NotNull(error);
        Assert.Contains("'scores'", error);
        Assert.Contains(message, error);
    }
}
