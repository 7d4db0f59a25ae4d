using System.Text.Json.Nodes;
using Quiver.Onnx;

namespace Quiver.Server.Tests.Rest;

/// <summary>Outputs of real models through the real server, checked against math done here in C#.</summary>
public sealed class InferenceEndpointTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly TestServer _server = fixture.Server;

    [Fact]
    public async Task Infer_Mlp_MatchesMatrixMathComputedInTheTest()
    {
        float[][] rows = [[5.1f, 3.5f, 1.4f, 0.2f], [-1f, 2f, 0.5f, 3f], [0f, 0f, 0f, 0f]];
        string body = $$"""{"id":"req-7","inputs":[{"name":"input","shape":[3,4],"datatype":"FP32","data":{{Json(rows)}}}]}""";

        var (status, response) = await _server.PostAsync("/v2/models/mlp/versions/1/infer", body);

        Assert.Equal(200, status);
        Assert.Equal("req-7", (string?)response!["id"]);
        Assert.Equal("mlp", (string?)response["model_name"]);
        Assert.Equal("1", (string?)response["model_version"]);
        JsonNode output = response["outputs"]![0]!;
        Assert.Equal("probabilities", (string?)output["name"]);
        Assert.Equal("FP32", (string?)output["datatype"]);
        Assert.Equal("[3,2]", output["shape"]!.ToJsonString());
        float[] actual = output["data"]!.AsArray().Select(v => (float)v!).ToArray();
        float[] expected = rows.SelectMany(r => Softmax(Mlp(r))).ToArray();
        AssertClose(expected, actual, 1e-5f);
    }

    [Fact]
    public async Task Infer_WithoutVersion_UsesHighestVersion()
    {
        float[] row = [1f, 2f, 3f, 4f];
        string body = $$"""{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":{{Json([row])}}}]}""";

        var (status, response) = await _server.PostAsync("/v2/models/mlp_versions/infer", body);

        Assert.Equal(200, status);
        Assert.Equal("2", (string?)response!["model_version"]);
        JsonNode output = response["outputs"]![0]!;
        Assert.Equal("logits", (string?)output["name"]);
        AssertClose(Mlp(row), output["data"]!.AsArray().Select(v => (float)v!).ToArray(), 1e-5f);
    }

    [Fact]
    public async Task Infer_ClassificationParameter_ReturnsTopKWithLabels()
    {
        float[] row = [5.1f, 3.5f, 1.4f, 0.2f];
        string body = $$$"""
            {"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":{{{Json([row])}}}}],
             "outputs":[{"name":"probabilities","parameters":{"classification":2}}]}
            """;

        var (status, response) = await _server.PostAsync("/v2/models/mlp/versions/1/infer", body);

        Assert.Equal(200, status);
        JsonNode output = response!["outputs"]![0]!;
        Assert.Equal("BYTES", (string?)output["datatype"]);
        Assert.Equal("[1,2]", output["shape"]!.ToJsonString());
        float[] probabilities = Softmax(Mlp(row));
        int best = probabilities[0] >= probabilities[1] ? 0 : 1;
        string[] top = output["data"]!.AsArray().Select(v => (string)v!).ToArray();
        string[] first = top[0].Split(':');
        Assert.Equal(best.ToString(System.Globalization.CultureInfo.InvariantCulture), first[1]);
        Assert.Equal(best == 0 ? "cat" : "dog", first[2]);
        Assert.Equal(probabilities[best], float.Parse(first[0], System.Globalization.CultureInfo.InvariantCulture), 5);
        Assert.EndsWith(best == 0 ? ":1:dog" : ":0:cat", top[1]);
    }

    public static TheoryData<TensorElementType, string, string> IdentityCases => new()
    {
        { TensorElementType.Bool, "BOOL", "[true,false,true]" },
        { TensorElementType.UInt8, "UINT8", "[0,128,255]" },
        { TensorElementType.UInt16, "UINT16", "[0,1000,65535]" },
        { TensorElementType.UInt32, "UINT32", "[0,7,4294967295]" },
        { TensorElementType.UInt64, "UINT64", "[0,7,18446744073709551615]" },
        { TensorElementType.Int8, "INT8", "[-128,0,127]" },
        { TensorElementType.Int16, "INT16", "[-32768,5,32767]" },
        { TensorElementType.Int32, "INT32", "[-2147483648,0,2147483647]" },
        { TensorElementType.Int64, "INT64", "[-9223372036854775808,0,9223372036854775807]" },
        { TensorElementType.Float16, "FP16", "[1.5,-0.25,65504]" },
        { TensorElementType.BFloat16, "BF16", "[1,-2.5,0.15625]" },
        { TensorElementType.Float, "FP32", "[0.1,-3.5,1E+30]" },
        { TensorElementType.Double, "FP64", "[0.1,-3.5,1E+300]" },
        { TensorElementType.String, "BYTES", "[\"a\",\"h\u00e9llo\",\"\"]" },
    };

    [Theory]
    [MemberData(nameof(IdentityCases))]
    public async Task Infer_IdentityModel_ReturnsTheSameValuesForEveryDatatype(TensorElementType type, string datatype, string data)
    {
        string model = "identity_" + type.ToString().ToLowerInvariant();
        string body = $$"""{"inputs":[{"name":"input","shape":[1,3],"datatype":"{{datatype}}","data":{{data}}}]}""";

        var (status, response) = await _server.PostAsync($"/v2/models/{model}/infer", body);

        Assert.Equal(200, status);
        JsonNode output = response!["outputs"]![0]!;
        Assert.Equal(datatype, (string?)output["datatype"]);
        Assert.Equal("[1,3]", output["shape"]!.ToJsonString());
        JsonArray expected = JsonNode.Parse(data)!.AsArray();
        JsonArray actual = output["data"]!.AsArray();
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            if (datatype.StartsWith("FP", StringComparison.Ordinal) || datatype == "BF16")
            {
                Assert.Equal((double)expected[i]!, (double)actual[i]!);
            }
            else
            {
                Assert.Equal(expected[i]!.ToJsonString(), actual[i]!.ToJsonString());
            }
        }
    }

    [Fact]
    public async Task Infer_MultiInputOutput_Int64AndBool_MatchExpected()
    {
        long[] a = [1, 2, 3, 4, 5, 6];
        long[] b = [10, 20, 30, -1, -2, -3];
        bool[] flag = [true, false, true, false, false, true];
        string body = $$"""
            {"inputs":[
              {"name":"a","shape":[2,3],"datatype":"INT64","data":[[1,2,3],[4,5,6]]},
              {"name":"b","shape":[2,3],"datatype":"INT64","data":[10,20,30,-1,-2,-3]},
              {"name":"flag","shape":[2,3],"datatype":"BOOL","data":[[true,false,true],[false,false,true]]}]}
            """;

        var (status, response) = await _server.PostAsync("/v2/models/multi_io/infer", body);

        Assert.Equal(200, status);
        var outputs = response!["outputs"]!.AsArray().ToDictionary(o => (string)o!["name"]!, o => o!);
        Assert.Equal(a.Zip(b, (x, y) => x + y), Longs(outputs["sum"]));
        Assert.Equal(a.Zip(b, (x, y) => x * y), Longs(outputs["product"]));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => flag[i] ? a[i] : b[i]), Longs(outputs["selected"]));
        Assert.Equal("BOOL", (string?)outputs["any_true"]["datatype"]);
        Assert.Equal(flag, outputs["any_true"]["data"]!.AsArray().Select(v => (bool)v!));
    }

    [Fact]
    public async Task Infer_OutputsSelection_ReturnsOnlyTheNamedOutputs()
    {
        string body = """
            {"inputs":[
              {"name":"a","shape":[1,3],"datatype":"INT64","data":[1,2,3]},
              {"name":"b","shape":[1,3],"datatype":"INT64","data":[4,5,6]},
              {"name":"flag","shape":[1,3],"datatype":"BOOL","data":[true,true,false]}],
             "outputs":[{"name":"product"}]}
            """;

        var (status, response) = await _server.PostAsync("/v2/models/multi_io/infer", body);

        Assert.Equal(200, status);
        JsonNode output = Assert.Single(response!["outputs"]!.AsArray())!;
        Assert.Equal("product", (string?)output["name"]);
        Assert.Equal([4L, 10L, 18L], Longs(output));
    }

    [Fact]
    public async Task Infer_StringModel_EchoesUtf8Text()
    {
        string body = """{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","data":["hello","w\u00f6rld \ud83c\udff9"]}]}""";

        var (status, response) = await _server.PostAsync("/v2/models/strings/infer", body);

        Assert.Equal(200, status);
        JsonNode output = response!["outputs"]![0]!;
        Assert.Equal("BYTES", (string?)output["datatype"]);
        Assert.Equal(["hello", "w\u00f6rld \ud83c\udff9"], output["data"]!.AsArray().Select(v => (string)v!));
    }

    [Fact]
    public async Task Infer_Fp16Model_ComputesInHalfPrecision()
    {
        Half[] x = [(Half)0.5f, (Half)(-2f), (Half)3.25f, (Half)100.125f];
        string body = $$"""{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP16","data":[{{string.Join(",", x.Select(h => ((float)h).ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}}]}]}""";

        var (status, response) = await _server.PostAsync("/v2/models/fp16/infer", body);

        Assert.Equal(200, status);
        JsonNode output = response!["outputs"]![0]!;
        Assert.Equal("FP16", (string?)output["datatype"]);
        float[] expected = x.Select((v, i) => (float)((v * ModelRepositoryFixture.Fp16Scale[i]) + ModelRepositoryFixture.Fp16Bias[i])).ToArray();
        Assert.Equal(expected, output["data"]!.AsArray().Select(v => (float)v!));
    }

    internal static float[] Mlp(float[] x)
    {
        var W1 = ModelRepositoryFixture.W1;
        var W2 = ModelRepositoryFixture.W2;
        var hidden = new float[W1.GetLength(1)];
        for (int j = 0; j < hidden.Length; j++)
        {
            float sum = ModelRepositoryFixture.B1[j];
            for (int i = 0; i < x.Length; i++)
            {
                sum += x[i] * W1[i, j];
            }

            hidden[j] = Math.Max(0f, sum);
        }

        var output = new float[W2.GetLength(1)];
        for (int k = 0; k < output.Length; k++)
        {
            float sum = ModelRepositoryFixture.B2[k];
            for (int j = 0; j < hidden.Length; j++)
            {
                sum += hidden[j] * W2[j, k];
            }

            output[k] = sum;
        }

        return output;
    }

    internal static float[] Softmax(float[] logits)
    {
        float max = logits.Max();
        double[] exp = logits.Select(v => Math.Exp(v - max)).ToArray();
        double total = exp.Sum();
        return exp.Select(e => (float)(e / total)).ToArray();
    }

    internal static string Json(float[][] rows) =>
        "[" + string.Join(",", rows.Select(r => "[" + string.Join(",", r.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]")) + "]";

    private static long[] Longs(JsonNode output) => output["data"]!.AsArray().Select(v => (long)v!).ToArray();

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {actual[i]}");
        }
    }
}
