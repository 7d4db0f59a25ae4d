using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Quiver.Core.Security;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// One real server with authentication on, shared by the security tests: a shared model and one model each of
/// tenants acme and globex (owners from their config.json), and API keys created in its registry for every role
/// and both tenants.
/// </summary>
public sealed class SecuredServer : IAsyncLifetime
{
    public const string SharedModel = "shared";
    public const string AcmeModel = "acme_model";
    public const string GlobexModel = "globex_model";

    private readonly string _root = Directory.CreateTempSubdirectory("quiver-security-").FullName;

    public TestServer Server { get; private set; } = null!;

    /// <summary>The model repository folder.</summary>
    public string Root => _root;

    public GrpcTestClient Grpc { get; private set; } = null!;

    /// <summary>What the server audited (a test's list: the hash-chained log is another branch's work).</summary>
    public RecordingAuditSink Audit { get; } = new();

    /// <summary>A key per role, without a tenant, by role name; "acme" and "globex" are tenant keys with viewer, predictor and deployer.</summary>
    public IReadOnlyDictionary<string, CreatedApiKey> Keys { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        WriteModel(SharedModel, null);
        WriteModel(AcmeModel, "acme");
        WriteModel(GlobexModel, "globex");
        Server = await TestServer.StartAsync(_root, o => o with { RequireAuthentication = true, RepositoryPollInterval = TimeSpan.Zero },
            services => services.AddSingleton<IAuditSink>(Audit));
        Grpc = new GrpcTestClient(Server.Server.GrpcAddress);
        var manager = new ApiKeyManager(Server.Server.Lifecycle.Registry, TimeProvider.System);
        var keys = new Dictionary<string, CreatedApiKey>();
        foreach (Role role in Enum.GetValues<Role>())
        {
            keys[RoleNames.Of(role)] = await manager.CreateAsync("test-" + RoleNames.Of(role), [role], null, null);
        }

        keys["acme"] = await manager.CreateAsync("acme-app", [Role.Viewer, Role.Predictor, Role.Deployer], "acme", null);
        keys["globex"] = await manager.CreateAsync("globex-app", [Role.Viewer, Role.Predictor, Role.Deployer], "globex", null);
        Keys = keys;
    }

    public async Task DisposeAsync()
    {
        Grpc.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Sends a request with the key (if any) in X-API-Key; returns the status, the body and the response headers.</summary>
    public Task<(int Status, string Body, HttpResponseHeaders Headers)> SendAsync(HttpMethod method, string path, string? key,
        string? body = null, string header = "X-API-Key") =>
        SendAsync(Server.Client, method, path, body,
            key is null ? null : headers => headers.TryAddWithoutValidation(header, header == "Authorization" ? "Bearer " + key : key));

    /// <summary>Sends a request (a JSON body, if any) with the credentials <paramref name="authorize"/> adds; returns the status, the body and the response headers.</summary>
    public static async Task<(int Status, string Body, HttpResponseHeaders Headers)> SendAsync(HttpClient client, HttpMethod method, string path,
        string? body, Action<HttpRequestHeaders>? authorize)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        authorize?.Invoke(request.Headers);
        using HttpResponseMessage response = await client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers);
    }

    /// <summary>Calls an RPC with the key (if any) in the x-api-key metadata.</summary>
    public Task<GrpcResult> CallAsync(string method, Google.Protobuf.IMessage request, string? key) =>
        Grpc.CallAsync(method, GrpcTestClient.Frame(request), key is null ? null : new Dictionary<string, string> { ["x-api-key"] = key });

    private void WriteModel(string name, string? tenant)
    {
        string version = Path.Combine(_root, name, "1");
        Directory.CreateDirectory(version);
        SampleModels.Identity(TensorElementType.Float, Dim.Named("batch"), Dim.Of(3)).Save(Path.Combine(version, "model.onnx"));
        File.WriteAllText(Path.Combine(_root, name, "config.json"), tenant is null ? """{"warmup": false}""" : $$"""{"warmup": false, "tenant": "{{tenant}}"}""");
    }
}

/// <summary>An <see cref="IAuditSink"/> that keeps what it is given, for assertions.</summary>
public sealed class RecordingAuditSink : IAuditSink
{
    private readonly ConcurrentQueue<AuditEvent> _events = new();

    public IReadOnlyList<AuditEvent> Events => _events.ToArray();

    public ValueTask RecordAsync(AuditEvent auditEvent, CancellationToken cancellationToken = default)
    {
        _events.Enqueue(auditEvent);
        return ValueTask.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class SecuredServerCollection : ICollectionFixture<SecuredServer>
{
    public const string Name = "secured server";
}
