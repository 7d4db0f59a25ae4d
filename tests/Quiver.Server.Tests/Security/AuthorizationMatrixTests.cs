using System.Text.Json.Nodes;
using Google.Protobuf;
using Quiver.Core.Security;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;
using Quiver.Server.Security;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// Every REST endpoint and every RPC × every role (and no credentials), on one real server: a role the table asks for
/// gets past authorization, any other gets 403 / PERMISSION_DENIED, no credentials get 401 / UNAUTHENTICATED.
/// Allowed requests name a model, endpoint or job that does not exist, so they change nothing; what they get back
/// (404, 400...) is the endpoint's own answer, never 401 or 403.
/// </summary>
[Collection(SecuredServerCollection.Name)]
public sealed class AuthorizationMatrixTests(SecuredServer secured)
{
    private static readonly string[] s_keys = ["viewer", "predictor", "deployer", "admin"];

    [Fact]
    public async Task EveryRestEndpoint_AllowsItsRole_AndRefusesTheOthers()
    {
        var failures = new List<string>();
        foreach (((string method, string pattern), Access access) in PolicyTable.Rest)
        {
            if (access.Role is not { } role)
            {
                continue;
            }

            string path = Concrete(pattern);
            string? body = method is "POST" or "PUT" ? "{}" : null;
            foreach (string keyName in s_keys)
            {
                (int status, string text, _) = await secured.SendAsync(new HttpMethod(method), path, secured.Keys[keyName].Key, body);
                bool allowed = keyName == "admin" || keyName == RoleNames.Of(role);
                if (allowed && status is 401 or 403)
                {
                    failures.Add($"{keyName} {method} {path}: {status} {text}");
                }
                else if (!allowed && (status != 403 || !text.Contains($"needs the {RoleNames.Of(role)} role", StringComparison.Ordinal)))
                {
                    failures.Add($"{keyName} {method} {path}: expected 403, got {status} {text}");
                }
            }

            (int anonymous, string anonymousText, var headers) = await secured.SendAsync(new HttpMethod(method), path, null, body);
            if (anonymous != 401 || !headers.WwwAuthenticate.ToString().StartsWith("Bearer", StringComparison.Ordinal)
                || JsonNode.Parse(anonymousText)?["error"] is null)
            {
                failures.Add($"no credentials {method} {path}: expected 401 with WWW-Authenticate and an error, got {anonymous} {anonymousText}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task EveryRpc_AllowsItsRole_AndRefusesTheOthers()
    {
        var failures = new List<string>();
        foreach ((string rpc, Access access) in PolicyTable.Grpc)
        {
            Role role = access.Role!.Value;
            IMessage request = RequestFor(rpc);
            foreach (string keyName in s_keys)
            {
                GrpcResult result = await secured.CallAsync(rpc, request, secured.Keys[keyName].Key);
                bool allowed = keyName == "admin" || keyName == RoleNames.Of(role);
                if (allowed && result.Status is 16 or 7)
                {
                    failures.Add($"{keyName} {rpc}: {result.Status} {result.GrpcMessage}");
                }
                else if (!allowed && (result.Status != 7 || !result.GrpcMessage.Contains($"needs the {RoleNames.Of(role)} role", StringComparison.Ordinal)))
                {
                    failures.Add($"{keyName} {rpc}: expected PERMISSION_DENIED, got {result.Status} {result.GrpcMessage}");
                }
            }

            GrpcResult anonymous = await secured.CallAsync(rpc, request, null);
            if (anonymous.HttpStatus != 200 || anonymous.Status != 16 || anonymous.GrpcMessage.Length == 0)
            {
                failures.Add($"no credentials {rpc}: expected UNAUTHENTICATED, got HTTP {anonymous.HttpStatus} grpc-status {anonymous.Status}");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task AllowedRequests_ReachTheEndpoint_WithTheirRealAnswers()
    {
        (int metadata, string body, _) = await secured.SendAsync(HttpMethod.Get, $"/v2/models/{SecuredServer.SharedModel}", secured.Keys["viewer"].Key);
        Assert.Equal(200, metadata);
        Assert.Contains("\"name\":\"shared\"", body);

        (int infer, string inferred, _) = await secured.SendAsync(HttpMethod.Post, $"/v2/models/{SecuredServer.SharedModel}/infer",
            secured.Keys["predictor"].Key, """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""", header: "Authorization");
        Assert.True(infer == 200, inferred);

        (int metrics, _, _) = await secured.SendAsync(HttpMethod.Get, "/metrics", secured.Keys["viewer"].Key);
        Assert.Equal(200, metrics);

        GrpcResult grpc = await secured.CallAsync("ModelMetadata", new ModelMetadataRequest { Name = SecuredServer.SharedModel }, secured.Keys["viewer"].Key);
        Assert.Equal(0, grpc.Status);
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

    // A path for a route pattern, naming things that do not exist so an allowed call changes nothing.
    private static string Concrete(string pattern) => pattern
        .Replace("{model}", "no_such_model", StringComparison.Ordinal)
        .Replace("{version}", "1", StringComparison.Ordinal)
        .Replace("{alias}", "staging", StringComparison.Ordinal)
        .Replace("{action}", "pause", StringComparison.Ordinal)
        .Replace("{endpoint}", "no_such_endpoint", StringComparison.Ordinal)
        .Replace("{id}", "no-such-job", StringComparison.Ordinal)
        .Replace("{**path}", "index.html", StringComparison.Ordinal)
        .Replace("{**rest}", "nothing", StringComparison.Ordinal);

    private static IMessage RequestFor(string rpc) => rpc switch
    {
        "ServerLive" => new ServerLiveRequest(),
        "ServerReady" => new ServerReadyRequest(),
        "ServerMetadata" => new ServerMetadataRequest(),
        "ModelReady" => new ModelReadyRequest { Name = "no_such_model" },
        "ModelMetadata" => new ModelMetadataRequest { Name = "no_such_model" },
        "ModelConfig" => new ModelConfigRequest { Name = "no_such_model" },
        "ModelStatistics" => new ModelStatisticsRequest { Name = "no_such_model" },
        "RepositoryIndex" => new RepositoryIndexRequest(),
        "ModelInfer" or "ModelStreamInfer" => new ModelInferRequest { ModelName = "no_such_model" },
        "RepositoryModelLoad" => new RepositoryModelLoadRequest { ModelName = "no_such_model" },
        "RepositoryModelUnload" => new RepositoryModelUnloadRequest { ModelName = "no_such_model" },
        _ => throw new ArgumentException($"no sample request for {rpc}; add one"),
    };
}
