using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Quiver.Cli.Tests;

/// <summary>The <c>quiver</c> executable, run as a separate process exactly as the README says.</summary>
public sealed class ServeCommandTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Help_DocumentsServeAndItsOptions()
    {
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--help");

        Assert.Equal(0, await quiver.WaitForExitAsync(s_timeout));
        foreach (string option in new[] { "--model-repository", "--host", "--http-port", "--grpc-port", "--data-dir", "--max-request-bytes" })
        {
            Assert.Contains(option, quiver.Output);
        }
    }

    [Fact]
    public async Task RootHelp_ListsServe()
    {
        using QuiverProcess quiver = QuiverProcess.Start("--help");

        Assert.Equal(0, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("serve", quiver.Output);
    }

    [Fact]
    public async Task Serve_WithDefaults_ServesTheExamplesAndStopsOnSigterm()
    {
        int port = FreePort();
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--http-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", "0", "--metrics-port", "0");
        await quiver.WaitForOutputAsync("listening on", s_timeout);

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        string request = File.ReadAllText(Path.Combine(QuiverProcess.RepositoryRoot, "examples", "requests", "iris.json"));
        using HttpResponseMessage response = await client.PostAsync("/v2/models/iris/infer", new StringContent(request, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonNode body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("probabilities", (string?)body["outputs"]![0]!["name"]);

        Assert.Contains("libonnxruntime", quiver.Output);
        Assert.Contains("Model iris version 1 is ready", quiver.Output);
        Assert.Contains("Model text_echo version 1 is ready", quiver.Output);

        quiver.Terminate();
        Assert.Equal(0, await quiver.WaitForExitAsync(s_timeout));
    }

    [Fact]
    public async Task Serve_JsonLogs_WritesOneJsonObjectPerLine()
    {
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", "--log-format", "json");
        await quiver.WaitForOutputAsync("listening on", s_timeout);
        quiver.Terminate();
        await quiver.WaitForExitAsync(s_timeout);

        string[] lines = quiver.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, line => Assert.Equal(System.Text.Json.JsonValueKind.Object, JsonNode.Parse(line)!.GetValueKind()));
        Assert.Contains(lines, line => (string?)JsonNode.Parse(line)!["Category"] == "Quiver.Models");
    }

    [Fact]
    public async Task Serve_TextLogs_LinesWrittenDuringARequestCarryItsRequestId()
    {
        int port = FreePort();
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--http-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", "0", "--metrics-port", "0");
        await quiver.WaitForOutputAsync("listening on", s_timeout);

        // A reload logs "Model iris version … is ready" while the request that asked for it runs.
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        using HttpResponseMessage response = await client.PostAsync("/v2/repository/models/iris/load", new StringContent(""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string requestId = response.Headers.GetValues("X-Request-Id").Single();
        quiver.Terminate();
        await quiver.WaitForExitAsync(s_timeout);

        string[] lines = quiver.Output.Split('\n');
        Assert.Contains(lines, line => line.Contains(requestId, StringComparison.Ordinal) && line.Contains("Model iris version", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_UnknownLogFormat_IsRefused()
    {
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--log-format", "xml");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("xml", quiver.Error);
    }

    [Fact]
    public async Task Serve_NonLoopbackHost_ExitsWithTheReason()
    {
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--host", "0.0.0.0", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("not a loopback address", quiver.Error);
    }

    [Fact]
    public async Task Serve_MissingRepository_ExitsNamingIt()
    {
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--model-repository", "no/such/dir", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("no/such/dir", quiver.Error);
    }

    [Fact]
    public async Task Serve_WrongOrtLibrary_ExitsWithOneClearError()
    {
        using QuiverProcess quiver = QuiverProcess.StartWithEnvironment(
            new Dictionary<string, string> { ["QUIVER_ORT_LIBRARY"] = "/no/such/libonnxruntime.so" }, "serve", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("/no/such/libonnxruntime.so", quiver.Error);
        Assert.Contains("QUIVER_ORT_LIBRARY", quiver.Error);
    }

    [Theory]
    [InlineData("README.md", "could not be loaded as a shared library")]
    [InlineData("/lib/x86_64-linux-gnu/libz.so.1", "does not export OrtGetApiBase")]
    public async Task Serve_FileThatIsNotOnnxRuntime_ExitsSayingWhy(string library, string reason)
    {
        string path = Path.GetFullPath(library, QuiverProcess.RepositoryRoot);
        Assert.True(File.Exists(path), $"test precondition: {path} exists");
        using QuiverProcess quiver = QuiverProcess.StartWithEnvironment(
            new Dictionary<string, string> { ["QUIVER_ORT_LIBRARY"] = path }, "serve", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains(path, quiver.Error);
        Assert.Contains(reason, quiver.Error);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
