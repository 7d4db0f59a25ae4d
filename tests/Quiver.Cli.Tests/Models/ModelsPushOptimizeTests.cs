using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Quiver.Cli.Bench;
using Quiver.Server;

namespace Quiver.Cli.Tests.Models;

/// <summary><c>quiver models push --optimize</c> against the real server, registry, optimizer and ONNX Runtime.</summary>
public sealed class ModelsPushOptimizeTests : IAsyncLifetime, IDisposable
{
    private readonly TempFiles _files = new();
    private QuiverServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await QuiverServer.StartAsync(
            new QuiverServerOptions
            {
                ModelRepository = Directory.CreateDirectory(Path.Combine(_files.Directory, "repository")).FullName,
                DataDirectory = Path.Combine(_files.Directory, "data"),
                HttpPort = 0,
                GrpcPort = 0,
                MetricsPort = 0,
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task PushOptimize_RegistersTheOriginalAndADerivedInt8VersionWithItsReport()
    {
        string model = _files.Write("mlp.onnx", Mlp());

        CliRun push = await RunAsync("push", "mlp", model, "--optimize", "int8-dynamic", "--alias", "staging", "--max-accuracy-drop", "0.2");

        Assert.True(push.ExitCode == 0, push.ToString());
        Assert.Contains($"pushed {model} as mlp version 1 ", push.Output);
        Assert.Contains("pushed its int8-dynamic optimization as mlp version 2 ", push.Output);
        Assert.Contains("mlp: staging → 2", push.Output);
        Assert.Contains("mlp version 2 is derived from version 1, with the optimization report attached.", push.Output);

        JsonNode derived = JsonNode.Parse((await RunAsync("show", "mlp", "2", "--json")).Output)!;
        Assert.Equal(1, (int?)derived["derived_from"]);
        JsonNode report = derived["optimization_report"]!;
        Assert.Equal("int8-dynamic", (string?)report["mode"]);
        Assert.Equal(model, (string?)report["input_model"]);
        Assert.True((double)report["size_ratio"]! < 0.5, report.ToJsonString());
        Assert.Equal(2, report["changed_nodes"]!.AsArray().Count);
        Assert.True((double)report["accuracy"]!["top1_agreement"]! >= 0.8, report.ToJsonString());
        Assert.Contains("int8-dynamic", derived["tags"]!.AsArray().Select(t => (string?)t));

        JsonNode original = JsonNode.Parse((await RunAsync("show", "mlp", "1", "--json")).Output)!;
        Assert.Null(original["derived_from"]);
        Assert.Null(original["optimization_report"]);

        CliRun show = await RunAsync("show", "mlp", "2");
        Assert.Contains("version 1", show.Output.Split('\n').Single(l => l.Contains("derived from", StringComparison.Ordinal)));
        Assert.Contains("int8-dynamic, size ", show.Output);

        // Both versions serve, and the int8 one answers close to the original.
        float[] input = Enumerable.Range(0, 64).Select(i => (i - 32) / 16f).ToArray();
        float[] exact = await InferAsync(1, input), quantized = await InferAsync(2, input);
        Assert.Equal(exact.Length, quantized.Length);
        Assert.All(exact.Zip(quantized), pair => Assert.InRange(pair.Second, pair.First - 0.2f, pair.First + 0.2f));
    }

    [Fact]
    public async Task PushOptimize_AccuracyLimitExceeded_Exits1AndPushesNothing()
    {
        string model = _files.Write("strict.onnx", Mlp());

        CliRun push = await RunAsync("push", "strict", model, "--optimize", "int8-dynamic", "--max-abs-diff", "0");

        Assert.Equal(1, push.ExitCode);
        Assert.Contains("nothing was pushed", push.Error);
        CliRun show = await RunAsync("show", "strict");
        Assert.Equal("error: model 'strict' does not exist in the registry.\n", show.Error);
    }

    [Fact]
    public async Task PushOptimize_FileThatIsNotOnnx_Exits1AndPushesNothing()
    {
        string model = _files.Write("junk.onnx", Encoding.UTF8.GetBytes("not a model"));

        CliRun push = await RunAsync("push", "junk", model, "--optimize", "fp16");

        Assert.Equal(1, push.ExitCode);
        Assert.Contains("cannot optimize", push.Error);
        Assert.Contains("Nothing was pushed.", push.Error);
        Assert.Equal(1, (await RunAsync("show", "junk")).ExitCode);
    }

    [Theory]
    [InlineData("--optimize", "int8-static", "'int8-static'")]
    [InlineData("--validation", "x.jsonl", "apply only with --optimize")]
    public async Task Push_BadOptimizeArguments_Exits2AndSendsNothing(string option, string value, string expected)
    {
        string model = _files.Write("args.onnx", Mlp());

        CliRun push = await RunAsync("push", "args", model, option, value);

        Assert.Equal(2, push.ExitCode);
        Assert.Contains(expected, push.Error);
        Assert.Equal(1, (await RunAsync("show", "args")).ExitCode);
    }

    [Fact]
    public async Task PushApi_DerivedFromAMissingVersion_Is404_AndABadReportHeaderIs400()
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        byte[] model = Mlp();

        using HttpResponseMessage missing = await http.PostAsync("/v2/admin/models/lineage/versions?derived_from=7", new ByteArrayContent(model));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("derived_from names version 7 of model 'lineage', which does not exist", await missing.Content.ReadAsStringAsync());

        using var badHeader = new HttpRequestMessage(HttpMethod.Post, "/v2/admin/models/lineage/versions") { Content = new ByteArrayContent(model) };
        badHeader.Headers.Add("X-Quiver-Optimization-Report", "not base64!");
        using HttpResponseMessage refused = await http.SendAsync(badHeader);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("base64 of a JSON object", await refused.Content.ReadAsStringAsync());

        using var notObject = new HttpRequestMessage(HttpMethod.Post, "/v2/admin/models/lineage/versions") { Content = new ByteArrayContent(model) };
        notObject.Headers.Add("X-Quiver-Optimization-Report", Convert.ToBase64String(Encoding.UTF8.GetBytes("[1, 2]")));
        using HttpResponseMessage array = await http.SendAsync(notObject);
        Assert.Equal(HttpStatusCode.BadRequest, array.StatusCode);
        Assert.Contains("optimization_report must be a JSON object", await array.Content.ReadAsStringAsync());
        Assert.Equal(1, (await RunAsync("show", "lineage")).ExitCode);
    }

    public void Dispose() => _files.Dispose();

    private static byte[] Mlp() => BenchModels.Mlp("mlp", 64, 256, 10, seed: 7).ToBytes();

    private Task<CliRun> RunAsync(params string[] args) => ModelsCli.RunAsync(["models", .. args, "--server", _server.HttpAddress.ToString()]);

    private async Task<float[]> InferAsync(int version, float[] input)
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        string data = string.Join(",", input.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var content = new StringContent($$"""{"inputs":[{"name":"input","shape":[1,64],"datatype":"FP32","data":[{{data}}]}]}""", Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await http.PostAsync($"/v2/models/mlp/versions/{version}/infer", content);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonNode.Parse(body)!["outputs"]![0]!["data"]!.AsArray().Select(v => (float)v!).ToArray();
    }
}
