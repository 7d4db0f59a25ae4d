using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Quiver.Cli.Admin;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server;

namespace Quiver.Cli.Tests.Models;

/// <summary><c>quiver models</c> against the real server: registry (SQLite), artifact store, admin API and ONNX Runtime.</summary>
public sealed class ModelsEndToEndTests : IAsyncLifetime, IDisposable
{
    private readonly TempFiles _files = new();
    private QuiverServer _server = null!;

    private string Url => _server.HttpAddress.ToString();

    public async Task InitializeAsync()
    {
        string repository = Directory.CreateDirectory(Path.Combine(_files.Directory, "repository")).FullName;
        _server = await QuiverServer.StartAsync(
            new QuiverServerOptions
            {
                ModelRepository = repository,
                DataDirectory = Path.Combine(_files.Directory, "data"),
                HttpPort = 0,
                GrpcPort = 0,
                MetricsPort = 0,
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Push_List_Promote_Rollback_MoveWhatTheServerServes()
    {
        string plusOne = _files.Write("plus1.onnx", Adder(1));
        string plusTwo = _files.Write("plus2.onnx", Adder(2));
        string config = _files.Write("config.json", """{ "max_batch_size": 8 }""");

        CliRun first = await RunAsync("push", "adder", plusOne, "--description", "adds one", "--tag", "cli,e2e", "--config", config);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains($"pushed {plusOne} as adder version 1 ", first.Output);
        Assert.EndsWith("), ready", first.Output.Split('\n')[0]);

        CliRun second = await RunAsync("push", "adder", plusTwo, "--alias", "staging", "--training-run", "run-2");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("as adder version 2 ", second.Output);
        Assert.Contains("adder: staging → 2", second.Output);

        CliRun again = await RunAsync("push", "adder", plusTwo);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.StartsWith("adder version 2 already holds this artifact and config", again.Output);

        CliRun list = await RunAsync("list");
        Assert.True(list.ExitCode == 0, list.ToString());
        string row = list.Output.Split('\n').Single(line => line.Contains("adder", StringComparison.Ordinal));
        Assert.Contains("staging → 2", row);
        Assert.Contains("2 (2 ready)", row);

        CliRun listJson = await RunAsync("list", "--json");
        JsonNode adder = JsonNode.Parse(listJson.Output)!["models"]!.AsArray().Single(m => (string?)m!["name"] == "adder")!;
        JsonNode v1 = adder["versions"]![0]!;
        Assert.Equal(("adds one", CliActor.Current), ((string?)v1["description"], (string?)v1["creator"]));
        Assert.Equal(["cli", "e2e"], v1["tags"]!.AsArray().Select(t => (string?)t));
        Assert.Equal("run-2", (string?)adder["versions"]![1]!["training_run_id"]);

        Assert.Equal("adder: production → 1 (was unset)\n", (await RunAsync("promote", "adder", "1")).Output);
        Assert.Equal(2f, await InferAsync(1f));
        Assert.Equal("adder: production → 2 (was 1)\n", (await RunAsync("promote", "adder", "2")).Output);
        Assert.Equal(3f, await InferAsync(1f));

        CliRun rollback = await RunAsync("rollback", "adder");
        Assert.True(rollback.ExitCode == 0, rollback.ToString());
        Assert.Equal("adder: production rolled back to 1 (was 2)\n", rollback.Output);
        Assert.Equal(2f, await InferAsync(1f));

        CliRun history = await RunAsync("history", "adder", "--json");
        JsonArray changes = JsonNode.Parse(history.Output)!["changes"]!.AsArray();
        Assert.Equal(4, changes.Count);
        Assert.True((bool)changes[0]!["rollback"]!);
        Assert.All(changes, change => Assert.Equal(CliActor.Current, (string?)change!["changed_by"]));

        CliRun show = await RunAsync("show", "adder", "1");
        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Contains("production", show.Output);
        Assert.Contains("input", show.Output);
    }

    [Fact]
    public async Task ServerRefusals_Exit1WithTheServersMessage()
    {
        string notOnnx = _files.Write("notes.onnx", Encoding.UTF8.GetBytes("this is not a model"));

        CliRun push = await RunAsync("push", "adder", notOnnx);
        CliRun show = await RunAsync("show", "no_such_model");

        Assert.Equal(1, push.ExitCode);
        Assert.StartsWith("error: ", push.Error);
        Assert.Equal(1, show.ExitCode);
        Assert.Equal("error: model 'no_such_model' does not exist in the registry.\n", show.Error);
    }

    public void Dispose() => _files.Dispose();

    private static byte[] Adder(double addend) => SampleModels.AddConstant(TensorElementType.Float, addend, "batch", 1).ToBytes();

    private Task<CliRun> RunAsync(params string[] args) => ModelsCli.RunAsync(["models", .. args, "--server", Url]);

    private async Task<float> InferAsync(float x)
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };
        using var content = new StringContent($$"""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[{{x}}]}]}""", Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await http.PostAsync("/v2/models/adder/infer", content);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return (float)JsonNode.Parse(body)!["outputs"]![0]!["data"]![0]!;
    }
}
