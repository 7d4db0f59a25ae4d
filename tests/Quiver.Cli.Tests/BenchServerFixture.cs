using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Quiver.Cli.Tests;

/// <summary>
/// Writes the bench models with <c>quiver bench models</c> into a temporary folder and serves them with
/// <c>quiver serve</c>, once for every bench test that needs a server.
/// </summary>
public sealed class BenchServerFixture : IAsyncLifetime
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private QuiverProcess? _server;

    public string Repository { get; } = Path.Combine(Path.GetTempPath(), "quiver-bench-tests-" + Guid.NewGuid().ToString("N"));

    public int HttpPort { get; } = FreePort();

    public int GrpcPort { get; } = FreePort();

    public string Url => $"http://127.0.0.1:{HttpPort}";

    public string GrpcUrl => $"http://127.0.0.1:{GrpcPort}";

    /// <summary>What <c>bench models</c> printed.</summary>
    public string ModelsOutput { get; private set; } = "";

    public async Task InitializeAsync()
    {
        using (QuiverProcess models = QuiverProcess.Start("bench", "models", "--output", Repository))
        {
            int exitCode = await models.WaitForExitAsync(s_timeout);
            Assert.True(exitCode == 0, $"bench models failed: {models.Error}");
            ModelsOutput = models.Output;
        }

        _server = QuiverProcess.Start("serve", "--model-repository", Repository,
            "--http-port", HttpPort.ToString(CultureInfo.InvariantCulture), "--grpc-port", GrpcPort.ToString(CultureInfo.InvariantCulture),
            "--metrics-port", "0");
        await _server.WaitForOutputAsync("listening on", s_timeout);
    }

    public Task DisposeAsync()
    {
        _server?.Dispose();
        try
        {
            Directory.Delete(Repository, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is harmless.
        }

        return Task.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
