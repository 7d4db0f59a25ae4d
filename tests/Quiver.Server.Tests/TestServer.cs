using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace Quiver.Server.Tests;

/// <summary>A real Quiver server on a free loopback port, with an HttpClient pointed at it.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly string _dataDirectory;
    private readonly bool _ownsDataDirectory;

    private TestServer(QuiverServer server, string dataDirectory, bool ownsDataDirectory)
    {
        Server = server;
        _dataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
        Client = new HttpClient { BaseAddress = server.HttpAddress };
    }

    public QuiverServer Server { get; }

    /// <summary>The server's own registry and artifact store.</summary>
    public string DataDirectory => _dataDirectory;

    public HttpClient Client { get; }

    public static async Task<TestServer> StartAsync(string repository, Func<QuiverServerOptions, QuiverServerOptions>? configure = null,
        Action<Microsoft.Extensions.DependencyInjection.IServiceCollection>? configureServices = null)
    {
        string ownDataDirectory = NewDataDirectory();
        var options = new QuiverServerOptions
        {
            ModelRepository = repository, HttpPort = 0, GrpcPort = 0, MetricsPort = 0, DataDirectory = ownDataDirectory,
        };
        options = configure?.Invoke(options) ?? options;
        bool owns = options.DataDirectory == ownDataDirectory;
        if (!owns)
        {
            Directory.Delete(ownDataDirectory);
        }

        try
        {
            QuiverServer server = await QuiverServer.StartAsync(options, logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole(),
                configureServices: configureServices);
            return new TestServer(server, options.DataDirectory, owns);
        }
        catch when (owns)
        {
            Directory.Delete(options.DataDirectory, recursive: true);
            throw;
        }
    }

    /// <summary>Wraps a server started by the test itself; the data directory stays the test's to delete.</summary>
    public static TestServer Wrap(QuiverServer server, string dataDirectory) => new(server, dataDirectory, ownsDataDirectory: false);

    /// <summary>A fresh data directory (registry and artifacts) in the temp folder.</summary>
    public static string NewDataDirectory() => Directory.CreateTempSubdirectory("quiver-test-data-").FullName;

    /// <summary>POSTs a JSON body and returns the status and the parsed response body.</summary>
    public async Task<(int Status, JsonNode? Body)> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using HttpResponseMessage response = await Client.PostAsync(path, content);
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    /// <summary>GETs a path and returns the status and the parsed response body.</summary>
    public async Task<(int Status, JsonNode? Body)> GetAsync(string path)
    {
        using HttpResponseMessage response = await Client.GetAsync(path);
        return ((int)response.StatusCode, await ReadJsonAsync(response));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        if (_ownsDataDirectory)
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    private static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        if (text.Length == 0)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            throw new Xunit.Sdk.XunitException($"HTTP {(int)response.StatusCode} body is not JSON: {text}");
        }
    }
}
