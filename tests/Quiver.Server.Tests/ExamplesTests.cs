using System.Text.Json.Nodes;

namespace Quiver.Server.Tests;

/// <summary>The README's promise: the committed examples serve, and the sample requests work.</summary>
public sealed class ExamplesTests
{
    private static string Examples(params string[] parts) => Path.Combine([RepositoryRoot.Path, "examples", .. parts]);

    [Fact]
    public async Task IrisSampleRequest_ClassifiesSetosaAndVirginica()
    {
        await using TestServer server = await TestServer.StartAsync(Examples("models"));

        var (status, response) = await server.PostAsync("/v2/models/iris/infer", File.ReadAllText(Examples("requests", "iris.json")));

        Assert.Equal(200, status);
        Assert.Equal("iris-1", (string?)response!["id"]);
        float[] p = response["outputs"]![0]!["data"]!.AsArray().Select(v => (float)v!).ToArray();
        Assert.Equal(6, p.Length);
        Assert.Equal(0, ArgMax(p[..3]));
        Assert.Equal(2, ArgMax(p[3..]));
        Assert.Equal(1f, p[..3].Sum(), 4);
    }

    [Fact]
    public async Task IrisClassification_UsesTheLabelFile()
    {
        await using TestServer server = await TestServer.StartAsync(Examples("models"));
        JsonNode request = JsonNode.Parse(File.ReadAllText(Examples("requests", "iris.json")))!;
        request["outputs"] = JsonNode.Parse("""[{"name":"probabilities","parameters":{"classification":1}}]""");

        var (status, response) = await server.PostAsync("/v2/models/iris/infer", request.ToJsonString());

        Assert.Equal(200, status);
        string[] top = response!["outputs"]![0]!["data"]!.AsArray().Select(v => (string)v!).ToArray();
        Assert.EndsWith(":0:setosa", top[0]);
        Assert.EndsWith(":2:virginica", top[1]);
    }

    [Fact]
    public async Task TextEchoSampleRequest_EchoesTheStrings()
    {
        await using TestServer server = await TestServer.StartAsync(Examples("models"));

        var (status, response) = await server.PostAsync("/v2/models/text_echo/infer", File.ReadAllText(Examples("requests", "text_echo.json")));

        Assert.Equal(200, status);
        Assert.Equal(["hello", "quiver"], response!["outputs"]![0]!["data"]!.AsArray().Select(v => (string)v!));
    }

    private static int ArgMax(float[] values) => Array.IndexOf(values, values.Max());
}
