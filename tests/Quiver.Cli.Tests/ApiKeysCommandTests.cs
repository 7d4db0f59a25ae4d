using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Quiver.Cli.Tests;

/// <summary><c>quiver keys create|list|revoke</c> as processes on a real data directory, and against a running <c>quiver serve --auth</c>.</summary>
public sealed class ApiKeysCommandTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("quiver-apikeys-cli-").FullName;

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public async Task CreateListRevoke_ShowTheKeyOnce_AndNeverItsSecretAgain()
    {
        (int created, string key, string createdInfo) = await RunAsync("keys", "create", "--name", "scorer", "--role", "predictor", "--role", "viewer",
            "--tenant", "acme", "--expires", "2099-01-01");
        (int second, string other, _) = await RunAsync("keys", "create", "--name", "deploy-bot", "--role", "deployer");
        string id = key.Trim()[3..19];

        Assert.True(created == 0, createdInfo);
        Assert.Equal(0, second);
        Assert.Matches("^qk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$", key.Trim());
        Assert.Contains($"Created API key {id} 'scorer' (viewer, predictor, tenant acme, expires 2099-01-01 00:00:00Z)", createdInfo);

        (int listed, string list, _) = await RunAsync("keys", "list");
        Assert.Equal(0, listed);
        Assert.Contains(id, list);
        Assert.Contains("scorer", list);
        Assert.Contains("acme", list);
        Assert.Contains("viewer,predictor", list);
        Assert.Contains("deploy-bot", list);
        Assert.DoesNotContain(key.Trim()[20..], list);
        Assert.DoesNotContain(other.Trim()[20..], list);

        (int revoked, string revokedInfo, _) = await RunAsync("keys", "revoke", id);
        (_, string after, _) = await RunAsync("keys", "list");
        Assert.Equal(0, revoked);
        Assert.Contains($"Revoked API key {id} 'scorer' at ", revokedInfo);
        Assert.Contains("revoked 20", after.Split('\n').Single(l => l.Contains(id, StringComparison.Ordinal)));
        Assert.Contains("active", after.Split('\n').Single(l => l.Contains("deploy-bot", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task BadArguments_FailWithAClearError()
    {
        Assert.Equal(0, (await RunAsync("keys", "create", "--name", "first", "--role", "viewer")).Exit);
        (int badRole, _, string roleError) = await RunAsync("keys", "create", "--name", "x", "--role", "root");
        (int badExpiry, _, string expiryError) = await RunAsync("keys", "create", "--name", "x", "--role", "viewer", "--expires", "soon");
        (int unknown, _, string unknownError) = await RunAsync("keys", "revoke", "0123456789abcdef");
        using QuiverProcess noRegistry = QuiverProcess.Start("keys", "list", "--data-dir", Path.Combine(_dataDirectory, "typo"));

        Assert.Equal((1, 1, 1), (badRole, badExpiry, unknown));
        Assert.Contains("--role 'root' is not a role (known: viewer, predictor, deployer, admin)", roleError);
        Assert.Contains("neither a duration (30d, 12h, 90m) nor a date", expiryError);
        Assert.Contains("there is no API key with id '0123456789abcdef'", unknownError);
        Assert.Equal(1, await noRegistry.WaitForExitAsync(s_timeout));
        Assert.Contains("there is no registry at", noRegistry.Error);
    }

    [Fact]
    public async Task ServeWithAuth_OnANonLoopbackHost_TakesACreatedKey_AndRefusesItOnceRevoked()
    {
        (_, string output, _) = await RunAsync("keys", "create", "--name", "app", "--role", "predictor");
        string key = output.Trim();
        int port = FreePort();
        using QuiverProcess server = QuiverProcess.Start("serve", "--auth", "--host", "0.0.0.0", "--data-dir", _dataDirectory,
            "--http-port", port.ToString(CultureInfo.InvariantCulture), "--grpc-port", "0", "--metrics-port", "0");
        await server.WaitForOutputAsync("listening on", s_timeout);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        string request = File.ReadAllText(Path.Combine(QuiverProcess.RepositoryRoot, "examples", "requests", "iris.json"));

        Assert.Equal(HttpStatusCode.Unauthorized, await InferAsync(client, request, null));
        Assert.Equal(HttpStatusCode.OK, await InferAsync(client, request, key));
        (int revoked, _, _) = await RunAsync("keys", "revoke", key[3..19]);
        Assert.Equal(0, revoked);
        Assert.Equal(HttpStatusCode.Unauthorized, await InferAsync(client, request, key));

        server.Terminate();
        Assert.Equal(0, await server.WaitForExitAsync(s_timeout));
    }

    private static async Task<HttpStatusCode> InferAsync(HttpClient client, string body, string? key)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, "/v2/models/iris/infer") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            message.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }

        using HttpResponseMessage response = await client.SendAsync(message);
        return response.StatusCode;
    }

    private async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using QuiverProcess quiver = QuiverProcess.Start([.. args, "--data-dir", _dataDirectory]);
        int exit = await quiver.WaitForExitAsync(s_timeout);
        return (exit, quiver.Output, quiver.Error);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
