using System.Net.Http.Headers;
using Google.Protobuf;
using Microsoft.IdentityModel.Tokens;
using Quiver.Core.Security;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Security;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>The policy table walked with JWTs: one token per role, from an identity provider made by the test.</summary>
public sealed class JwtAuthorizationMatrixTests(JwtSecuredServer server) : PolicyTableMatrix(server, JwtSecuredServer.Model), IClassFixture<JwtSecuredServer>;

/// <summary>
/// A real server with authentication on that trusts a JWKS file of an identity provider made here (an RSA and an ECDSA
/// key), and a token for each role: subject <c>jwt-ROLE</c>, that one role in <c>roles</c>, no tenant. Sent as
/// <c>Authorization: Bearer</c> over REST and as <c>authorization</c> metadata over gRPC.
/// </summary>
public sealed class JwtSecuredServer : IAsyncLifetime, IRoleCaller
{
    public const string Model = "shared";

    private readonly string _root = Directory.CreateTempSubdirectory("quiver-jwt-matrix-").FullName;
    private readonly TestSigningKeys _idp = new();
    private readonly Dictionary<Role, string> _tokens = [];
    private GrpcTestClient _grpc = null!;

    public TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        RsaSecurityKey rsa = _idp.AddRsa("rsa-1");
        ECDsaSecurityKey ecdsa = _idp.AddEcdsa("ec-1");
        string jwks = Path.Combine(_root, "jwks.json");
        File.WriteAllText(jwks, _idp.Jwks());
        string models = Path.Combine(_root, "models");
        Directory.CreateDirectory(Path.Combine(models, Model, "1"));
        SampleModels.Identity(TensorElementType.Float, Dim.Named("batch"), Dim.Of(3)).Save(Path.Combine(models, Model, "1", "model.onnx"));

        Server = await TestServer.StartAsync(models, o => o with
        {
            RequireAuthentication = true, RepositoryPollInterval = TimeSpan.Zero,
            Jwt = new JwtOptions { Jwks = jwks, Issuer = TestSigningKeys.Issuer, Audience = TestSigningKeys.Audience },
        });
        _grpc = new GrpcTestClient(Server.Server.GrpcAddress);

        // Valid for two hours of the real clock the server checks them against: far longer than the walk.
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (Role role in Enum.GetValues<Role>())
        {
            SecurityKey key = role is Role.Viewer or Role.Deployer ? rsa : ecdsa;
            _tokens[role] = TestSigningKeys.Token(key, now.AddMinutes(-1), now.AddHours(2),
                new Dictionary<string, object> { ["sub"] = NameOf(role), ["roles"] = new[] { RoleNames.Of(role) } });
        }
    }

    public async Task DisposeAsync()
    {
        _grpc.Dispose();
        await Server.DisposeAsync();
        _idp.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    public string NameOf(Role role) => "jwt-" + RoleNames.Of(role);

    public Task<(int Status, string Body, HttpResponseHeaders Headers)> SendAsync(HttpMethod method, string path, Role? role, string? body = null) =>
        SecuredServer.SendAsync(Server.Client, method, path, body,
            role is { } r ? headers => headers.Authorization = new AuthenticationHeaderValue("Bearer", _tokens[r]) : null);

    public Task<GrpcResult> CallAsync(string rpc, IMessage request, Role? role) =>
        _grpc.CallAsync(rpc, GrpcTestClient.Frame(request), role is { } r ? new Dictionary<string, string> { ["authorization"] = "Bearer " + _tokens[r] } : null);
}
