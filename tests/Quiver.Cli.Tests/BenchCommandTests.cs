using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace Quiver.Cli.Tests;

/// <summary><c>quiver bench</c> run as a separate process against a real <c>quiver serve</c>; no timing is asserted.</summary>
public sealed class BenchCommandTests(BenchServerFixture server) : IClassFixture<BenchServerFixture>
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private static readonly string[] s_modelNames = ["bench_small", "bench_wide", "bench_heavy", "bench_transformer"];

    [Fact]
    public async Task Help_ListsTheSubcommands()
    {
        using QuiverProcess quiver = QuiverProcess.Start("bench", "--help");

        Assert.Equal(0, await quiver.WaitForExitAsync(s_timeout));
        foreach (string subcommand in new[] { "models", "run", "raw" })
        {
            Assert.Contains(subcommand, quiver.Output);
        }
    }

    [Fact]
    public async Task Models_WritesFourModelsThatTheServerLoads()
    {
        using var client = new HttpClient { BaseAddress = new Uri(server.Url) };
        foreach (string name in s_modelNames)
        {
            Assert.True(File.Exists(Path.Combine(server.Repository, name, "1", "model.onnx")), $"{name}/1/model.onnx");
            Assert.Equal(128, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(server.Repository, name, "config.json")))!["max_batch_size"]!);
            Assert.Contains(name, server.ModelsOutput);

            using HttpResponseMessage ready = await client.GetAsync($"/v2/models/{name}/ready");
            Assert.True(ready.StatusCode == HttpStatusCode.OK, $"{name} is not ready: {await ready.Content.ReadAsStringAsync()}");
        }
    }

    [Theory]
    [InlineData("rest-json")]
    [InlineData("rest-binary")]
    [InlineData("grpc")]
    public async Task Run_EachProtocol_ReportsEveryLevelWithoutErrors(string protocol)
    {
        JsonNode report = await RunJsonAsync("--model", "bench_small", "--protocol", protocol,
            "--requests", "50", "--concurrency", "1,4", "--warmup", "0s", "--json");

        Assert.Equal(1, (int)report["schema"]!);
        Assert.Equal(protocol, (string?)report["protocol"]);
        Assert.Equal(1, (long)report["batch_size"]!);
        Assert.Equal("[1,64]", report["inputs"]![0]!["shape"]!.ToJsonString());
        JsonArray levels = report["levels"]!.AsArray();
        Assert.Equal([1, 4], levels.Select(l => (int)l!["concurrency"]!));
        foreach (JsonNode? level in levels)
        {
            Assert.Equal(50, (long)level!["requests"]!);
            Assert.Equal(0, (long)level["errors"]!);
            Assert.True((double)level["latency_us"]!["p50"]! > 0);
            Assert.True((double)level["inferences_per_s"]! > 0);
            Assert.Equal(50, (long)level["server"]!["inferences"]!);
            Assert.True((double)level["server"]!["avg_batch_size"]! >= 1);
            // Serving a request allocates something (at least its response), and the figure is per inference.
            JsonNode gc = level["server_gc"]!;
            Assert.True((long)gc["allocated_bytes"]! > 0);
            Assert.Equal((double)(long)gc["allocated_bytes"]! / 50, (double)gc["bytes_per_inference"]!, 3);
        }
    }

    [Fact]
    public async Task Run_BatchedShapeAndServerPid_CountsInferencesAndMemory()
    {
        int pid = await ServerPidAsync();
        JsonNode report = await RunJsonAsync("--model", "bench_wide", "--protocol", "rest-binary", "--shape", "4,256",
            "--requests", "20", "--concurrency", "2", "--warmup", "0s", "--server-pid", pid.ToString(CultureInfo.InvariantCulture), "--json");

        Assert.Equal(4, (long)report["batch_size"]!);
        JsonNode level = report["levels"]![0]!;
        Assert.Equal(0, (long)level["errors"]!);
        Assert.Equal(80, (long)level["server"]!["inferences"]!);
        Assert.True((long)level["server_rss_kb"]!["after"]! > 0);
    }

    [Theory]
    [InlineData("rest-json")]
    [InlineData("grpc")]
    public async Task Run_Version_GoesToThatVersion(string protocol)
    {
        JsonNode report = await RunJsonAsync("--model", "bench_small", "--version", "1", "--protocol", protocol,
            "--requests", "10", "--warmup", "0s", "--json");

        Assert.Equal("1", (string?)report["version"]);
        Assert.Equal(0, (long)report["levels"]![0]!["errors"]!);
        Assert.Equal(10, (long)report["levels"]![0]!["server"]!["inferences"]!);
    }

    [Fact]
    public async Task Run_InputDataFile_SendsItsTensors()
    {
        string file = Path.Combine(server.Repository, "request.json");
        string data = string.Join(',', Enumerable.Range(0, 2 * 64).Select(i => (i % 7 / 7.0).ToString(CultureInfo.InvariantCulture)));
        await File.WriteAllTextAsync(file, $$"""{"inputs":[{"name":"input","shape":[2,64],"datatype":"FP32","data":[{{data}}]}]}""");

        JsonNode report = await RunJsonAsync("--model", "bench_small", "--protocol", "grpc", "--input-data", file,
            "--requests", "10", "--warmup", "0s", "--json");

        Assert.Equal(2, (long)report["batch_size"]!);
        Assert.Equal(0, (long)report["levels"]![0]!["errors"]!);
    }

    [Fact]
    public async Task Run_Table_IsTheDefaultOutput()
    {
        using QuiverProcess quiver = QuiverProcess.Start("bench", "run", "--url", server.Url, "--model", "bench_small",
            "--requests", "10", "--warmup", "0s");

        Assert.True(await quiver.WaitForExitAsync(s_timeout) == 0, quiver.Error);
        Assert.Contains("p99 µs", quiver.Output);
        Assert.Contains("avg batch", quiver.Output);
    }

    [Fact]
    public async Task Raw_BenchSmall_ReportsThroughput()
    {
        string model = Path.Combine(server.Repository, "bench_small", "1", "model.onnx");
        using QuiverProcess quiver = QuiverProcess.Start("bench", "raw", "--model-file", model, "--batch", "1,4",
            "--duration", "200ms", "--warmup", "50ms", "--json");

        Assert.True(await quiver.WaitForExitAsync(s_timeout) == 0, quiver.Error);
        JsonNode report = JsonNode.Parse(quiver.Output)!;
        JsonArray results = report["results"]!.AsArray();
        Assert.Equal([1, 4], results.Select(r => (int)r!["batch_size"]!));
        foreach (JsonNode? result in results)
        {
            Assert.True((double)result!["inferences_per_s"]! > 0);
            Assert.True((double)result["latency_us"]!["p50"]! > 0);
        }
    }

    [Theory]
    [InlineData("unknown protocol 'soap'", "--model", "bench_small", "--protocol", "soap")]
    [InlineData("has 3 dimensions", "--model", "bench_small", "--shape", "1,64,1")]
    [InlineData("dimension 1 must be 64", "--model", "bench_small", "--shape", "1,32")]
    [InlineData("must be 1 to 128", "--model", "bench_small", "--shape", "129,64")]
    [InlineData("'no_such_model'", "--model", "no_such_model")]
    [InlineData("no version '9'", "--model", "bench_small", "--version", "9")]
    [InlineData("--concurrency '0'", "--model", "bench_small", "--concurrency", "0")]
    [InlineData("--warmup '10 parsecs'", "--model", "bench_small", "--warmup", "10 parsecs")]
    public async Task Run_BadArguments_ExitWithOneClearLine(string expected, params string[] args)
    {
        using QuiverProcess quiver = QuiverProcess.Start(["bench", "run", "--url", server.Url, "--requests", "5", .. args]);

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains(expected, quiver.Error);
        Assert.DoesNotContain("   at ", quiver.Error);
        Assert.DoesNotContain("Exception", quiver.Error);
    }

    [Fact]
    public async Task Run_NoServer_SaysItCannotReachIt()
    {
        using QuiverProcess quiver = QuiverProcess.Start("bench", "run", "--url", "http://127.0.0.1:1", "--model", "bench_small", "--requests", "5");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("cannot reach the server at http://127.0.0.1:1/", quiver.Error);
        Assert.DoesNotContain("   at ", quiver.Error);
    }

    [Fact]
    public async Task Raw_MissingModelFile_ExitsNamingIt()
    {
        using QuiverProcess quiver = QuiverProcess.Start("bench", "raw", "--model-file", "no/such/model.onnx");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("no/such/model.onnx", quiver.Error);
        Assert.DoesNotContain("   at ", quiver.Error);
    }

    private async Task<JsonNode> RunJsonAsync(params string[] args)
    {
        using QuiverProcess quiver = QuiverProcess.Start(["bench", "run", "--url", server.Url, "--grpc-url", server.GrpcUrl, .. args]);
        int exitCode = await quiver.WaitForExitAsync(s_timeout);
        Assert.True(exitCode == 0, $"bench run exited with {exitCode}: {quiver.Error}");
        return JsonNode.Parse(quiver.Output)!;
    }

    // QuiverProcess keeps its Process to itself; the server is the one serving this fixture's repository.
    private async Task<int> ServerPidAsync()
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out int pid) &&
                File.Exists(Path.Combine(dir, "cmdline")) &&
                (await TryReadAsync(Path.Combine(dir, "cmdline"))).Split('\0') is var args &&
                args.Contains("serve") && args.Contains(server.Repository))
            {
                return pid;
            }
        }

        throw new Xunit.Sdk.XunitException("the server process was not found in /proc");
    }

    private static async Task<string> TryReadAsync(string path)
    {
        try
        {
            return await File.ReadAllTextAsync(path);
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }
}
