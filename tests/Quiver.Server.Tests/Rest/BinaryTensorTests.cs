using System.Buffers.Binary;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Quiver.Server.Tests.Rest;

/// <summary>Triton's binary tensor data extension, with request bodies assembled byte by byte here.</summary>
public sealed class BinaryTensorTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly HttpClient _client = fixture.Server.Client;

    private sealed record Reply(int Status, JsonNode Json, byte[] Binary, string? ContentType);

    private async Task<Reply> PostAsync(string path, string json, byte[] binary, string? headerLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        using var content = new ByteArrayContent([.. header, .. binary]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", headerLength ?? header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using HttpResponseMessage response = await _client.PostAsync(path, content);
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        int jsonLength = response.Headers.TryGetValues("Inference-Header-Content-Length", out var values) ? int.Parse(values.First(), System.Globalization.CultureInfo.InvariantCulture) : body.Length;
        return new Reply((int)response.StatusCode, JsonNode.Parse(body.AsSpan(0, jsonLength))!, body[jsonLength..], response.Content.Headers.ContentType?.MediaType);
    }

    private static byte[] Floats(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    private static byte[] Strings(params string[] values) =>
        values.SelectMany(v =>
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(v);
            byte[] prefix = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(prefix, utf8.Length);
            return prefix.Concat(utf8);
        }).ToArray();

    [Fact]
    public async Task BinaryInput_JsonOutput_MatchesMatrixMath()
    {
        float[] row = [5.1f, 3.5f, 1.4f, 0.2f];

        Reply reply = await PostAsync("/v2/models/mlp/versions/1/infer",
            """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}""", Floats(row));

        Assert.Equal(200, reply.Status);
        float[] expected = InferenceEndpointTests.Softmax(InferenceEndpointTests.Mlp(row));
        float[] actual = reply.Json["outputs"]![0]!["data"]!.AsArray().Select(v => (float)v!).ToArray();
        Assert.Equal(expected[0], actual[0], 5);
        Assert.Empty(reply.Binary);
    }

    [Fact]
    public async Task BinaryDataOutput_ReturnsEveryOutputAfterTheJson()
    {
        string json = """
            {"parameters":{"binary_data_output":true},"inputs":[
              {"name":"a","shape":[1,3],"datatype":"INT64","data":[1,2,3]},
              {"name":"b","shape":[1,3],"datatype":"INT64","parameters":{"binary_data_size":24}},
              {"name":"flag","shape":[1,3],"datatype":"BOOL","parameters":{"binary_data_size":3}}],
             "outputs":[{"name":"sum"},{"name":"any_true","parameters":{"binary_data":false}}]}
            """;
        byte[] b = new long[] { 10, 20, 30 }.SelectMany(BitConverter.GetBytes).ToArray();

        Reply reply = await PostAsync("/v2/models/multi_io/infer", json, [.. b, 1, 0, 1]);

        Assert.Equal(200, reply.Status);
        Assert.Equal("application/octet-stream", reply.ContentType);
        JsonNode sum = reply.Json["outputs"]![0]!;
        Assert.Null(sum["data"]);
        Assert.Equal(24, (int)sum["parameters"]!["binary_data_size"]!);
        Assert.Equal(new long[] { 11, 22, 33 }.SelectMany(BitConverter.GetBytes).ToArray(), reply.Binary);
        Assert.Equal("[true,false,true]", reply.Json["outputs"]![1]!["data"]!.ToJsonString());
    }

    [Fact]
    public async Task BytesElements_AreLengthPrefixedBothWays()
    {
        byte[] strings = Strings("héllo", "", "quiver");

        Reply reply = await PostAsync("/v2/models/strings/infer",
            $$$"""{"inputs":[{"name":"text","shape":[3],"datatype":"BYTES","parameters":{"binary_data_size":{{{strings.Length}}}}}],"outputs":[{"name":"text_out","parameters":{"binary_data":true}}]}""",
            strings);

        Assert.Equal(200, reply.Status);
        Assert.Equal(strings, reply.Binary);
        Assert.Equal(strings.Length, (int)reply.Json["outputs"]![0]!["parameters"]!["binary_data_size"]!);
    }

    public static TheoryData<string, string, byte[], string?, string[]> BadRequests => new()
    {
        { "mlp", """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}""", new byte[12], null, ["'input'", "16", "12 bytes"] },
        { "mlp", """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":12}}]}""", new byte[12], null, ["'input'", "12", "needs 16"] },
        { "mlp", """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}""", new byte[20], null, ["4 bytes", "binary_data_size"] },
        { "mlp", """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":-1}}]}""", [], null, ["'input'", "non-negative"] },
        { "mlp", """{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4],"parameters":{"binary_data_size":16}}]}""", new byte[16], null, ["'input'", "both"] },
        { "strings", """{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":5}}]}""", [100, 0, 0, 0, 65], null, ["'text'", "length prefix 100"] },
        { "mlp", """{"inputs":[]}""", [], "99999", ["Inference-Header-Content-Length", "99999"] },
        { "mlp", """{"inputs":[]}""", [], "-5", ["Inference-Header-Content-Length", "non-negative"] },
        { "mlp", """{"inputs":[]}""", [], "twelve", ["Inference-Header-Content-Length", "twelve"] },
        { "mlp", "[1,2,3]", [], null, ["JSON object"] },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task BadBinaryRequest_Returns400NamingTheProblem(string model, string json, byte[] binary, string? headerLength, string[] mentions)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        using var content = new ByteArrayContent([.. header, .. binary]);
        content.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", headerLength ?? header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using HttpResponseMessage response = await _client.PostAsync($"/v2/models/{model}/infer", content);

        Assert.Equal(400, (int)response.StatusCode);
        string error = (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        foreach (string mention in mentions)
        {
            Assert.Contains(mention, error);
        }
    }
}
