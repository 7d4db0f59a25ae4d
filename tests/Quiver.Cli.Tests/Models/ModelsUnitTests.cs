using Quiver.Cli.Admin;
using Quiver.Cli.Models;

namespace Quiver.Cli.Tests.Models;

/// <summary>The small pieces of the models commands, without a server.</summary>
public sealed class ModelsUnitTests
{
    [Fact]
    public void PushQuery_EscapesValuesAndLeavesOutAbsentOnes()
    {
        var push = new PushRequest
        {
            Model = "iris",
            FilePath = "m.onnx",
            Creator = "ann",
            Description = "a&b = c",
            Tags = ["x", "y z"],
        };

        Assert.Equal("description=a%26b%20%3D%20c&tags=x%2Cy%20z&creator=ann", push.QueryString());
    }

    [Fact]
    public void Tags_SplitOnCommas_DropBlanksAndRepeats()
    {
        Assert.Equal(["a", "b", "c"], PushRequest.ParseTags(["a", "b, c", "", "a", " ,"]));
    }

    [Fact]
    public async Task ArtifactContent_StreamsTheFileWithItsLength()
    {
        using var files = new TempFiles();
        string path = files.Random("m.onnx", 200_000);
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read);

        using StreamContent content = ModelsApi.ArtifactContent(file);

        Assert.Equal(200_000, content.Headers.ContentLength);
        Assert.Equal("application/octet-stream", content.Headers.ContentType!.MediaType);
        Assert.Equal(File.ReadAllBytes(path), await content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("ann", "ann")]
    [InlineData("jürgen", "j%C3%BCrgen")]
    [InlineData("", "unknown")]
    public void Actor_IsAlwaysAValidHeaderValue(string user, string expected)
    {
        Assert.Equal(expected, CliActor.HeaderSafe(user));
    }

    [Theory]
    [InlineData("http://localhost:8000", "http://localhost:8000/")]
    [InlineData("https://models.example.com/quiver", "https://models.example.com/quiver/")]
    [InlineData(" http://10.0.0.5:8000/ ", "http://10.0.0.5:8000/")]
    public void ServerAddress_EndsInASlashAndKeepsAPathPrefix(string text, string expected)
    {
        Assert.Equal(expected, ServerAddress.Parse(text).ToString());
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(3_500_000, "3.3 MiB")]
    [InlineData(5L * 1024 * 1024 * 1024, "5.0 GiB")]
    public void Size_UsesBinaryUnits(long bytes, string expected)
    {
        Assert.Equal(expected, Display.Size(bytes));
    }
}
