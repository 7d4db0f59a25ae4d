using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Quiver.Cli.Tests;

/// <summary><c>quiver serve</c>'s JWT and mTLS flags, bound and validated as a user would give them.</summary>
public sealed class ServeSecurityFlagsTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Serve_IncompleteJwtAndMtlsFlags_ListsEveryProblemAndExits1()
    {
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--jwt-jwks", "http://idp.example.com/jwks", "--jwt-role-map", "ops=superuser",
            "--jwt-role-map", "no-equals-sign", "--tls-client-cert", "required");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("signing keys must come over https", quiver.Error);
        Assert.Contains("--jwt-issuer is required", quiver.Error);
        Assert.Contains("--jwt-audience is required", quiver.Error);
        Assert.Contains("--jwt-role-map 'ops=superuser'", quiver.Error);
        Assert.Contains("--jwt-role-map 'no-equals-sign='", quiver.Error);
        Assert.Contains("--tls-client-cert required needs TLS", quiver.Error);
        Assert.Contains("needs --tls-client-ca", quiver.Error);
        Assert.Contains("needs --mtls-principals", quiver.Error);
    }

    [Fact]
    public async Task Serve_UnknownClientCertificateMode_IsRefused()
    {
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--tls-client-cert", "sometimes");

        Assert.Equal(1, await quiver.WaitForExitAsync(s_timeout));
        Assert.Contains("sometimes", quiver.Error);
    }

    [Fact]
    public async Task Serve_JwksFile_IsLoadedAtStart()
    {
        string folder = Directory.CreateTempSubdirectory("quiver-cli-jwks-").FullName;
        try
        {
            using RSA key = RSA.Create(2048);
            RSAParameters publicKey = key.ExportParameters(false);
            var jwks = new JsonObject
            {
                ["keys"] = new JsonArray(new JsonObject
                {
                    ["kty"] = "RSA", ["kid"] = "cli-test-key", ["use"] = "sig", ["n"] = Base64Url(publicKey.Modulus!), ["e"] = Base64Url(publicKey.Exponent!),
                }),
            };
            string path = Path.Combine(folder, "jwks.json");
            File.WriteAllText(path, jwks.ToJsonString());

            using QuiverProcess quiver = QuiverProcess.Start("serve", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0",
                "--jwt-jwks", path, "--jwt-issuer", "https://idp.test", "--jwt-audience", "quiver", "--jwt-role-map", "ml-admins=admin",
                "--jwt-tenant-claim", "tenant", "--jwt-clock-skew", "30");
            await quiver.WaitForOutputAsync("listening on", s_timeout);

            Assert.Contains($"JWKS {path} loaded: 1 signing keys (cli-test-key)", quiver.Output);
            quiver.Terminate();
            Assert.Equal(0, await quiver.WaitForExitAsync(s_timeout));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
