using System.Text;
using System.Text.Json.Nodes;

namespace Quiver.Server.Tests.Rest;

/// <summary>Every bad input the protocol issue names: a clear 4xx naming what was wrong, never a 500.</summary>
public sealed class BadInputTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly TestServer _server = fixture.Server;

    private static string Mlp(string shape, string datatype, string data, string name = "input") =>
        $$"""{"inputs":[{"name":"{{name}}","shape":{{shape}},"datatype":"{{datatype}}","data":{{data}}}]}""";

    public static TheoryData<string, string, string[]> BadRequests => new()
    {
        { "mlp", "{\"inputs\": [", ["malformed JSON"] },
        { "mlp", "[]", ["JSON"] },
        { "mlp", Mlp("[1,4]", "INT32", "[1,2,3,4]"), ["'input'", "FP32", "INT32"] },
        { "mlp", Mlp("[1,5]", "FP32", "[1,2,3,4,5]"), ["'input'", "[-1,4]"] },
        { "mlp", Mlp("[4]", "FP32", "[1,2,3,4]"), ["'input'", "rank"] },
        { "mlp", Mlp("[1,4]", "FP32", "[1,2,3]"), ["'input'", "4", "3"] },
        { "mlp", Mlp("[2,4]", "FP32", "[1,2,3,4,5,6,7,8,9]"), ["'input'", "8", "9"] },
        { "mlp", Mlp("[1,4]", "FP32", "[1,2,3,4]", name: "inptu"), ["'inptu'", "input"] },
        { "multi_io", """{"inputs":[{"name":"a","shape":[1,3],"datatype":"INT64","data":[1,2,3]},{"name":"b","shape":[1,3],"datatype":"INT64","data":[1,2,3]}]}""", ["'flag'", "missing"] },
        { "mlp", Mlp("[-1,4]", "FP32", "[1,2,3,4]"), ["'input'", "negative"] },
        { "mlp", Mlp("[4611686018427387904,4]", "FP32", "[1,2,3,4]"), ["'input'", "64 bits"] },
        { "mlp", Mlp("[1,4]", "FP32", "[1,\"2\",3,4]"), ["'input'", "string", "number"] },
        { "mlp", Mlp("[1,4]", "FP32", "[1,\"NaN\",3,4]"), ["'input'", "string", "number"] },
        { "mlp", Mlp("[1,4]", "FP32", "[1,2,Infinity,4]"), ["malformed JSON"] },
        { "mlp", Mlp("[1,4]", "FLOAT", "[1,2,3,4]"), ["'input'", "FLOAT", "FP32"] },
        { "identity_uint8", Mlp("[1,3]", "UINT8", "[1,300,3]"), ["'input'", "300", "UINT8"] },
        { "identity_int32", Mlp("[1,3]", "INT32", "[1,2.5,3]"), ["'input'", "INT32"] },
        { "identity_bool", Mlp("[1,3]", "BOOL", "[1,0,1]"), ["'input'", "BOOL"] },
        { "mlp", Mlp("[9,4]", "FP32", "[" + string.Join(",", Enumerable.Repeat("1", 36)) + "]"), ["batch size 9", "max_batch_size 8"] },
        { "mlp", """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"nope"}]}""", ["'nope'", "probabilities"] },
        { "mlp", """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"probabilities","parameters":{"classification":0}}]}""", ["classification", "at least 1"] },
        { "multi_io", """{"inputs":[{"name":"a","shape":[2,3],"datatype":"INT64","data":[1,2,3,4,5,6]},{"name":"b","shape":[3,3],"datatype":"INT64","data":[1,2,3,4,5,6,7,8,9]},{"name":"flag","shape":[2,3],"datatype":"BOOL","data":[true,true,true,true,true,true]}]}""", ["multi_io", "broadcast"] },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Infer_BadRequest_Returns400NamingTheProblem(string model, string body, string[] mentions)
    {
        var (status, response) = await _server.PostAsync($"/v2/models/{model}/infer", body);

        Assert.Equal(400, status);
        string error = (string)response!["error"]!;
        foreach (string mention in mentions)
        {
            Assert.Contains(mention, error, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData("/v2/models/nope/infer")]
    [InlineData("/v2/models/mlp/versions/7/infer")]
    [InlineData("/v2/models/mlp/versions/one/infer")]
    public async Task Infer_UnknownModelOrVersion_Returns404(string path)
    {
        var (status, response) = await _server.PostAsync(path, Mlp("[1,4]", "FP32", "[1,2,3,4]"));

        Assert.Equal(404, status);
        Assert.False(string.IsNullOrEmpty((string?)response!["error"]));
    }

    [Fact]
    public async Task Infer_BodyOverTheLimit_Returns413()
    {
        string data = "[" + string.Join(",", Enumerable.Repeat("1.0", 40_000)) + "]";

        var (status, response) = await _server.PostAsync("/v2/models/mlp/infer", Mlp("[10000,4]", "FP32", data));

        Assert.Equal(413, status);
        Assert.Contains("limit", (string)response!["error"]!);
    }

    [Fact]
    public async Task Infer_ChunkedBodyOverTheLimit_Returns413()
    {
        string data = "[" + string.Join(",", Enumerable.Repeat("1.0", 40_000)) + "]";
        using var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(Mlp("[10000,4]", "FP32", data))));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/mlp/infer") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        Assert.Equal(413, (int)response.StatusCode);
    }

    [Fact]
    public async Task Infer_RandomlyCorruptedRequests_NeverGet500()
    {
        string valid = """{"id":"x","inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"probabilities"}]}""";
        var random = new Random(1234);
        for (int i = 0; i < 300; i++)
        {
            char[] chars = valid.ToCharArray();
            int edits = random.Next(1, 4);
            for (int e = 0; e < edits; e++)
            {
                chars[random.Next(chars.Length)] = "{}[],:\"-019aeE.xn "[random.Next(18)];
            }

            var (status, _) = await _server.PostAsync("/v2/models/mlp/versions/1/infer", new string(chars));
            Assert.True(status is 200 or 400 or 404, $"status {status} for {new string(chars)}");
        }

        var (after, _) = await _server.PostAsync("/v2/models/mlp/versions/1/infer", valid);
        Assert.Equal(200, after);
    }
}
