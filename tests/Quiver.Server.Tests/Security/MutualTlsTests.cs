using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Security;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// A real Quiver server with TLS on loopback asking for client certificates from a CA made by the test: with
/// certificates required, the handshake itself refuses a missing, expired or foreign certificate on every port.
/// </summary>
public sealed class MutualTlsTests : IAsyncLifetime
{
    private readonly MutualTlsSetup _setup = new();
    private QuiverServer _server = null!;

    public async Task InitializeAsync() => _server = await _setup.StartAsync(ClientCertificateRequirement.Required);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _setup.Dispose();
    }

    [Fact]
    public async Task Rest_GoodClientCertificate_IsServed()
    {
        using HttpClient client = _setup.Client(_server.HttpAddress, _setup.GoodClient);

        using HttpResponseMessage response = await client.GetAsync("/v2/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Rest_GoodClientCertificateOverTls12_IsServed()
    {
        using HttpClient client = _setup.Client(_server.HttpAddress, _setup.GoodClient, SslProtocols.Tls12);

        using HttpResponseMessage response = await client.GetAsync("/v2/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Grpc_GoodClientCertificate_IsServed()
    {
        using HttpClient client = _setup.Client(_server.GrpcAddress, _setup.GoodClient);

        Assert.True(await MutualTlsSetup.ServerLiveAsync(client));
    }

    [SkippableFact]
    public async Task Grpc_FromPythonGrpcio_NeedsTheClientCertificate()
    {
        Skip.IfNot(PythonHasGrpc(), "SKIPPED LOUDLY: python3-grpcio is not installed (apt-get install -y python3-grpcio).");
        string folder = _setup.Folder;
        File.WriteAllText(Path.Combine(folder, "client.pem"), _setup.GoodClient.ExportCertificatePem());
        File.WriteAllText(Path.Combine(folder, "client.key"), _setup.GoodClient.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        string script = $$"""
            import grpc, sys
            folder = sys.argv[1]
            read = lambda name: open(folder + '/' + name, 'rb').read()
            def live(creds):
                channel = grpc.secure_channel('localhost:{{_server.GrpcAddress.Port}}', creds)
                call = channel.unary_unary('/inference.GRPCInferenceService/ServerLive', request_serializer=lambda m: m, response_deserializer=lambda b: b)
                try:
                    return 'LIVE' if call(b'', timeout=30) == bytes([8, 1]) else 'NOT LIVE'
                except grpc.RpcError as e:
                    return 'REFUSED ' + str(e.code())
            print('with-cert', live(grpc.ssl_channel_credentials(read('server.pem'), read('client.key'), read('client.pem'))))
            print('without-cert', live(grpc.ssl_channel_credentials(read('server.pem'))))
            """;
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(folder);

        using Process process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Contains("with-cert LIVE", output);
        Assert.Contains("without-cert REFUSED StatusCode.UNAVAILABLE", output);
    }

    private static bool PythonHasGrpc()
    {
        if (!File.Exists("/usr/bin/python3"))
        {
            return false;
        }

        using Process process = Process.Start(new ProcessStartInfo("/usr/bin/python3", "-c \"import grpc\"") { RedirectStandardError = true })!;
        process.WaitForExit(60_000);
        return process.ExitCode == 0;
    }

    [Fact]
    public async Task NoClientCertificate_HandshakeIsRefusedOnEveryPort()
    {
        foreach (Uri address in new[] { _server.HttpAddress, _server.MetricsAddress })
        {
            using HttpClient client = _setup.Client(address, certificate: null);
            await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/v2/health/ready"));
        }

        using HttpClient grpc = _setup.Client(_server.GrpcAddress, certificate: null);
        await Assert.ThrowsAsync<HttpRequestException>(() => MutualTlsSetup.ServerLiveAsync(grpc));
    }

    [Fact]
    public async Task CertificateFromAnotherCa_HandshakeIsRefused()
    {
        using HttpClient client = _setup.Client(_server.HttpAddress, _setup.StrangerClient);

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/v2/health/ready"));
        // The client sees only a TLS alert; the operator's log says why.
        Assert.Contains(_setup.Logs.Messages, m => m.Contains("TLS handshake refused") && m.Contains("'CN=Stranger CA', which is not a CA this server trusts"));
    }

    [Fact]
    public async Task ExpiredCertificate_HandshakeIsRefused()
    {
        using HttpClient client = _setup.Client(_server.HttpAddress, _setup.ExpiredClient);

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/v2/health/ready"));
        Assert.Contains(_setup.Logs.Messages, m => m.Contains("TLS handshake refused") && m.Contains("'CN=billing' expired at"));
    }

    [Fact]
    public async Task ExpiredCertificate_OverGrpc_HandshakeIsRefused()
    {
        using HttpClient client = _setup.Client(_server.GrpcAddress, _setup.ExpiredClient);

        await Assert.ThrowsAsync<HttpRequestException>(() => MutualTlsSetup.ServerLiveAsync(client));
    }
}

/// <summary>Client certificates optional: the handshake lets every caller through; the middleware judges a presented one.</summary>
public sealed class OptionalClientCertificateTests : IAsyncLifetime
{
    private readonly MutualTlsSetup _setup = new();
    private QuiverServer _server = null!;

    public async Task InitializeAsync() => _server = await _setup.StartAsync(ClientCertificateRequirement.Optional);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _setup.Dispose();
    }

    [Fact]
    public async Task NoClientCertificate_IsServed()
    {
        using HttpClient client = _setup.Client(_server.HttpAddress, certificate: null);

        using HttpResponseMessage response = await client.GetAsync("/v2/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task GoodClientCertificate_IsServedOverGrpc()
    {
        using HttpClient client = _setup.Client(_server.GrpcAddress, _setup.GoodClient);

        Assert.True(await MutualTlsSetup.ServerLiveAsync(client));
    }

    [Fact]
    public async Task BadClientCertificate_StillCompletesTheHandshake_SoTheMiddlewareCanAnswer401()
    {
        // Whatever the status (the authentication middleware turns this into 401), an HTTP answer means the TLS
        // handshake did not refuse the foreign certificate, as the optional mode promises.
        using HttpClient client = _setup.Client(_server.HttpAddress, _setup.StrangerClient);

        using HttpResponseMessage response = await client.GetAsync("/v2/health/live");

        Assert.True((int)response.StatusCode is >= 200 and < 500);
    }
}

/// <summary>Options and files that must stop the server from starting, each named.</summary>
public sealed class MutualTlsStartTests : IDisposable
{
    private readonly MutualTlsSetup _setup = new();

    public void Dispose() => _setup.Dispose();

    [Fact]
    public void Options_ClientCertificatesWithoutTlsOrFiles_ListEveryProblem()
    {
        IReadOnlyList<string> errors = new QuiverServerOptions
        {
            ClientCertificates = new ClientCertificateOptions { Mode = ClientCertificateRequirement.Required },
        }.Validate();

        Assert.Contains(errors, e => e.Contains("needs TLS: give --tls-cert and --tls-key"));
        Assert.Contains(errors, e => e.Contains("needs --tls-client-ca"));
        Assert.Contains(errors, e => e.Contains("needs --mtls-principals"));
    }

    [Fact]
    public void Options_CaBundleWithModeNone_IsReportedAsHavingNoEffect()
    {
        IReadOnlyList<string> errors = new QuiverServerOptions
        {
            ClientCertificates = new ClientCertificateOptions { CaBundlePath = _setup.CaBundlePath },
        }.Validate();

        Assert.Contains(errors, e => e.Contains("no effect with --tls-client-cert none"));
    }

    [Fact]
    public async Task Start_CaBundleThatIsNotPem_RefusesNamingTheFile()
    {
        File.WriteAllText(_setup.CaBundlePath, "this is not a certificate");

        var error = await Assert.ThrowsAsync<ServerStartException>(() => _setup.StartAsync(ClientCertificateRequirement.Required));

        Assert.Contains(error.Errors, e => e.Contains($"--tls-client-ca {_setup.CaBundlePath} holds no PEM certificate"));
    }

    [Fact]
    public async Task Start_JwksFileThatIsNotAKeySet_RefusesNamingIt()
    {
        string jwks = Path.Combine(_setup.Folder, "jwks.json");
        File.WriteAllText(jwks, """{"issuer": "not a key set"}""");

        var error = await Assert.ThrowsAsync<ServerStartException>(() => QuiverServer.StartAsync(
            new QuiverServerOptions
            {
                HttpPort = 0, GrpcPort = 0, MetricsPort = 0, DataDirectory = Path.Combine(_setup.Folder, "data"), ModelRepository = "",
                Jwt = new JwtOptions { Jwks = jwks, Issuer = "https://idp.test", Audience = "quiver" },
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning)));

        Assert.Contains(error.Errors, e => e.StartsWith($"--jwt-jwks: cannot read the JWKS {jwks}"));
    }
}

/// <summary>
/// The files of an mTLS deployment made by a test: a server certificate for localhost, a client CA bundle, a principals
/// file, and clients: good, expired, and one from a stranger CA.
/// </summary>
internal sealed class MutualTlsSetup : IDisposable
{
    private readonly X509Certificate2 _serverCertificate;
    private readonly X509Certificate2 _ca;

    public MutualTlsSetup()
    {
        Folder = Directory.CreateTempSubdirectory("quiver-mtls-").FullName;
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        _serverCertificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        File.WriteAllText(Path.Combine(Folder, "server.pem"), _serverCertificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(Folder, "server.key"), key.ExportPkcs8PrivateKeyPem());

        _ca = TestCertificates.CreateCa("Quiver Test Client CA", now);
        using X509Certificate2 stranger = TestCertificates.CreateCa("Stranger CA", now);
        TestCertificates.WritePem(CaBundlePath, _ca);
        File.WriteAllText(PrincipalsPath, """{ "principals": [ { "subject": "billing", "tenant": "acme", "roles": ["predictor"] } ] }""");
        GoodClient = TestCertificates.Issue(_ca, "billing", now.AddDays(-1), now.AddDays(30));
        ExpiredClient = TestCertificates.Issue(_ca, "billing", now.AddDays(-10), now.AddDays(-1));
        StrangerClient = TestCertificates.Issue(stranger, "billing", now.AddDays(-1), now.AddDays(30));

        string repo = Path.Combine(Folder, "models");
        Directory.CreateDirectory(Path.Combine(repo, "echo", "1"));
        SampleModels.Identity(TensorElementType.Float, "batch", 3).Save(Path.Combine(repo, "echo", "1", "model.onnx"));
    }

    public string Folder { get; }

    public string CaBundlePath => Path.Combine(Folder, "client-ca.pem");

    public string PrincipalsPath => Path.Combine(Folder, "mtls-principals.json");

    public X509Certificate2 GoodClient { get; }

    public X509Certificate2 ExpiredClient { get; }

    public X509Certificate2 StrangerClient { get; }

    /// <summary>A good client certificate for CN=<paramref name="commonName"/> from the trusted client CA, valid for a month.</summary>
    public X509Certificate2 Issue(string commonName) =>
        TestCertificates.Issue(_ca, commonName, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

    public Task<QuiverServer> StartAsync(ClientCertificateRequirement mode, Func<QuiverServerOptions, QuiverServerOptions>? configure = null)
    {
        var options = new QuiverServerOptions
        {
            ModelRepository = Path.Combine(Folder, "models"), HttpPort = 0, GrpcPort = 0, MetricsPort = 0, DataDirectory = Path.Combine(Folder, "data"),
            TlsCertificatePath = Path.Combine(Folder, "server.pem"), TlsKeyPath = Path.Combine(Folder, "server.key"),
            ClientCertificates = new ClientCertificateOptions { Mode = mode, CaBundlePath = CaBundlePath, PrincipalsPath = PrincipalsPath },
        };
        return QuiverServer.StartAsync(configure?.Invoke(options) ?? options, logging => logging.SetMinimumLevel(LogLevel.Information).AddProvider(Logs));
    }

    /// <summary>What the server logged (from Information up).</summary>
    public RecordingLoggerProvider Logs { get; } = new();

    /// <summary>An HttpClient that trusts the server's certificate and presents <paramref name="certificate"/> (or none).</summary>
    public HttpClient Client(Uri address, X509Certificate2? certificate, SslProtocols protocols = SslProtocols.None)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions =
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == _serverCertificate.GetCertHashString(),
                EnabledSslProtocols = protocols,
            },
        };
        if (certificate is not null)
        {
            // Always present it, even when the server's list of acceptable CAs does not name its issuer.
            handler.SslOptions.ClientCertificates = [certificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        return new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>The gRPC ServerLive call over HTTP/2.</summary>
    public static async Task<bool> ServerLiveAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/inference.GRPCInferenceService/ServerLive")
        {
            Content = new ByteArrayContent(GrpcTestClient.Frame(new ServerLiveRequest())),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        using HttpResponseMessage response = await client.SendAsync(request);
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        return response.TrailingHeaders.GetValues("grpc-status").Single() == "0" && ServerLiveResponse.Parser.ParseFrom(body.AsSpan(5).ToArray()).Live;
    }

    public void Dispose()
    {
        Logs.Dispose();
        _serverCertificate.Dispose();
        _ca.Dispose();
        GoodClient.Dispose();
        ExpiredClient.Dispose();
        StrangerClient.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
