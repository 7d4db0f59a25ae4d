using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Grpc.Proto;

namespace Quiver.Server.Tests.Grpc;

/// <summary>REST and gRPC over TLS with a self-signed certificate made by the test.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-tls-").FullName;
    private X509Certificate2 _certificate = null!;
    private QuiverServer _server = null!;

    private string CertPath => Path.Combine(_folder, "cert.pem");

    public async Task InitializeAsync()
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        _certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(CertPath, _certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_folder, "key.pem"), key.ExportPkcs8PrivateKeyPem());

        string repo = Path.Combine(_folder, "models");
        Directory.CreateDirectory(Path.Combine(repo, "echo", "1"));
        SampleModels.Identity(TensorElementType.Float, "batch", 3).Save(Path.Combine(repo, "echo", "1", "model.onnx"));
        _server = await QuiverServer.StartAsync(
            new QuiverServerOptions
            {
                ModelRepository = repo, HttpPort = 0, GrpcPort = 0, MetricsPort = 0, DataDirectory = Path.Combine(_folder, "data"),
                TlsCertificatePath = CertPath, TlsKeyPath = Path.Combine(_folder, "key.pem"),
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _certificate.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private HttpClient TrustingClient(Uri address) => new(new SocketsHttpHandler
    {
        SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == _certificate.GetCertHashString() },
    })
    { BaseAddress = address };

    [Fact]
    public async Task Rest_IsServedOverHttps()
    {
        Assert.Equal("https", _server.HttpAddress.Scheme);
        using HttpClient client = TrustingClient(_server.HttpAddress);

        using HttpResponseMessage response = await client.GetAsync("/v2/health/ready");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Grpc_IsServedOverTlsWithHttp2()
    {
        using HttpClient client = TrustingClient(_server.GrpcAddress);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/inference.GRPCInferenceService/ServerLive")
        {
            Content = new ByteArrayContent(GrpcTestClient.Frame(new ServerLiveRequest())),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");

        using HttpResponseMessage response = await client.SendAsync(request);
        byte[] body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.True(ServerLiveResponse.Parser.ParseFrom(body.AsSpan(5).ToArray()).Live);
    }

    [SkippableFact]
    public async Task Grpc_OverTls_FromPythonGrpcio()
    {
        Skip.IfNot(PythonHasGrpc(), "SKIPPED LOUDLY: python3-grpcio is not installed (apt-get install -y python3-grpcio python3-grpc-tools).");
        string script = $$"""
            import grpc, sys
            creds = grpc.ssl_channel_credentials(open(sys.argv[1], 'rb').read())
            channel = grpc.secure_channel('localhost:{{_server.GrpcAddress.Port}}', creds)
            live = channel.unary_unary('/inference.GRPCInferenceService/ServerLive', request_serializer=lambda m: m, response_deserializer=lambda b: b)
            print('LIVE' if live(b'') == bytes([8, 1]) else 'NOT LIVE')
            """;
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(CertPath);

        using Process process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.Contains("LIVE", output);
        Assert.DoesNotContain("NOT LIVE", output);
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
    public async Task TlsOptions_MissingKeyOrFile_RefuseToStartNamingThem()
    {
        var error = await Assert.ThrowsAsync<ServerStartException>(() => QuiverServer.StartAsync(
            new QuiverServerOptions { HttpPort = 0, GrpcPort = 0, MetricsPort = 0, TlsCertificatePath = Path.Combine(_folder, "missing.pem") }));

        Assert.Contains(error.Errors, e => e.Contains("--tls-key"));
        Assert.Contains(error.Errors, e => e.Contains("missing.pem"));
    }
}
