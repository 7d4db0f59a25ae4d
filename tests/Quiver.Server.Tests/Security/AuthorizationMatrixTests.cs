using System.Net.Http.Headers;
using Google.Protobuf;
using Quiver.Core.Security;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// The policy table walked with API keys (<see cref="PolicyTableWalk"/>; JWTs and client certificates have their own
/// classes), and what else API-key callers are promised: changes recorded under the key's name, unknown paths 404,
/// health behind credentials without --open-health, denials audited without the secret.
/// </summary>
[Collection(SecuredServerCollection.Name)]
public sealed class AuthorizationMatrixTests(SecuredServer secured) : PolicyTableMatrix(new ApiKeyCaller(secured), SecuredServer.SharedModel)
{
    [Fact]
    public async Task PredictorKey_InAuthorizationBearer_Infers()
    {
        (int infer, string inferred, _) = await secured.SendAsync(HttpMethod.Post, $"/v2/models/{SecuredServer.SharedModel}/infer",
            secured.Keys["predictor"].Key, """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""", header: "Authorization");

        Assert.True(infer == 200, inferred);
    }

    [Fact]
    public async Task Changes_AreRecordedUnderTheKeysName_NotAnActorHeader()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/v2/admin/models/{SecuredServer.SharedModel}/aliases/staging")
        {
            Content = new StringContent("""{"version": 1}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("X-API-Key", secured.Keys["deployer"].Key);
        request.Headers.TryAddWithoutValidation("X-Quiver-Actor", "someone-else");
        using HttpResponseMessage response = await secured.Server.Client.SendAsync(request);

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var history = await secured.Server.Server.Lifecycle.Registry.GetAliasHistoryAsync(SecuredServer.SharedModel, "staging");
        Assert.Equal("test-deployer", history[0].ChangedBy);
    }

    [Fact]
    public async Task UnknownPaths_StayNotFound_WithOrWithoutCredentials()
    {
        (int anonymous, _, _) = await secured.SendAsync(HttpMethod.Get, "/v3/nothing", null);
        (int withKey, string body, _) = await secured.SendAsync(HttpMethod.Get, "/v3/nothing", secured.Keys["viewer"].Key);

        Assert.Equal(404, anonymous);
        Assert.Equal(404, withKey);
        Assert.Contains("no endpoint GET /v3/nothing", body);
    }

    [Fact]
    public async Task HealthEndpoints_NeedCredentials_WithoutOpenHealth()
    {
        (int live, _, _) = await secured.SendAsync(HttpMethod.Get, "/v2/health/live", null);
        (int ready, _, _) = await secured.SendAsync(HttpMethod.Get, "/v2/health/ready", secured.Keys["viewer"].Key);

        Assert.Equal(401, live);
        Assert.Equal(200, ready);
    }

    [Fact]
    public async Task Denials_AreAudited_WithThePrincipal_AndWithoutTheSecret()
    {
        CreatedApiKey viewer = secured.Keys["viewer"];
        await secured.SendAsync(HttpMethod.Post, "/v2/admin/models/no_such_model/promote", viewer.Key, """{"version": 1}""");

        AuditEvent denied = Assert.Single(secured.Audit.Events,
            e => e.Action == "auth.denied" && e.Actor == viewer.Record.Name && e.Resource == "POST /v2/admin/models/{model}/promote");
        Assert.Equal("denied", denied.Outcome);
        Assert.Equal("127.0.0.1", denied.Source);
        string secret = viewer.Key[(ApiKeySecret.Prefix.Length + 17)..];
        Assert.DoesNotContain(secured.Audit.Events, e => $"{e.Actor} {e.Resource} {e.Details}".Contains(secret, StringComparison.Ordinal));
    }

    /// <summary>The keys of <see cref="SecuredServer"/>, one per role, sent in X-API-Key and x-api-key.</summary>
    private sealed class ApiKeyCaller(SecuredServer secured) : IRoleCaller
    {
        public string NameOf(Role role) => secured.Keys[RoleNames.Of(role)].Record.Name;

        public Task<(int Status, string Body, HttpResponseHeaders Headers)> SendAsync(HttpMethod method, string path, Role? role, string? body = null) =>
            secured.SendAsync(method, path, Key(role), body);

        public Task<GrpcResult> CallAsync(string rpc, IMessage request, Role? role) => secured.CallAsync(rpc, request, Key(role));

        private string? Key(Role? role) => role is { } r ? secured.Keys[RoleNames.Of(r)].Key : null;
    }
}
