using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Quiver.Core.Security;
using Quiver.Server.Security;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>The policy table walked with TLS client certificates: one certificate per role, made by the test.</summary>
public sealed class ClientCertificateAuthorizationMatrixTests(ClientCertificateSecuredServer server) : PolicyTableMatrix(server, ClientCertificateSecuredServer.Model), IClassFixture<ClientCertificateSecuredServer>;

/// <summary>
/// A real server with authentication on, TLS, and client certificates optional (so a caller without one reaches the
/// authentication middleware and gets 401): a certificate per role, CN <c>cert-ROLE</c>, mapped in the principals file
/// to a principal of that name with that one role. Each caller has its own connections (REST and gRPC).
/// </summary>
public sealed class ClientCertificateSecuredServer : IAsyncLifetime, IRoleCaller
{
    public const string Model = "echo";

    private readonly MutualTlsSetup _setup = new();
    private readonly Dictionary<Role, X509Certificate2> _certificates = [];
    private readonly Dictionary<Role, (HttpClient Http, GrpcTestClient Grpc)> _callers = [];
    private QuiverServer _server = null!;
    private (HttpClient Http, GrpcTestClient Grpc) _nobody;

    public async Task InitializeAsync()
    {
        Role[] roles = Enum.GetValues<Role>();
        string entries = string.Join(", ", roles.Select(role => $$"""{ "subject": "{{NameOf(role)}}", "roles": ["{{RoleNames.Of(role)}}"] }"""));
        File.WriteAllText(_setup.PrincipalsPath, $$"""{ "principals": [ {{entries}} ] }""");
        foreach (Role role in roles)
        {
            _certificates[role] = _setup.Issue(NameOf(role));
        }

        _server = await _setup.StartAsync(ClientCertificateRequirement.Optional,
            o => o with { RequireAuthentication = true, RepositoryPollInterval = TimeSpan.Zero });
        foreach ((Role role, X509Certificate2 certificate) in _certificates)
        {
            _callers[role] = Connect(certificate);
        }

        _nobody = Connect(null);
    }

    public async Task DisposeAsync()
    {
        foreach ((HttpClient http, GrpcTestClient grpc) in _callers.Values.Append(_nobody))
        {
            http.Dispose();
            grpc.Dispose();
        }

        await _server.DisposeAsync();
        foreach (X509Certificate2 certificate in _certificates.Values)
        {
            certificate.Dispose();
        }

        _setup.Dispose();
    }

    public string NameOf(Role role) => "cert-" + RoleNames.Of(role);

    public Task<(int Status, string Body, HttpResponseHeaders Headers)> SendAsync(HttpMethod method, string path, Role? role, string? body = null) =>
        SecuredServer.SendAsync(Caller(role).Http, method, path, body, authorize: null); // the certificate is the credential

    public Task<GrpcResult> CallAsync(string rpc, IMessage request, Role? role) => Caller(role).Grpc.CallAsync(rpc, GrpcTestClient.Frame(request));

    private (HttpClient Http, GrpcTestClient Grpc) Caller(Role? role) => role is { } r ? _callers[r] : _nobody;

    private (HttpClient Http, GrpcTestClient Grpc) Connect(X509Certificate2? certificate) =>
        (_setup.Client(_server.HttpAddress, certificate), new GrpcTestClient(_setup.Client(_server.GrpcAddress, certificate)));
}
