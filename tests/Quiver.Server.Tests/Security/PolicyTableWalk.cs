using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Quiver.Core.Security;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Security;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// Sends requests to one real server as a caller holding exactly one role, or with no credentials (a null role), by
/// one kind of identity: an API key, a JWT, a client certificate.
/// </summary>
public interface IRoleCaller
{
    /// <summary>The principal name the server gives the caller of <paramref name="role"/>: its 403s name it.</summary>
    string NameOf(Role role);

    Task<(int Status, string Body, HttpResponseHeaders Headers)> SendAsync(HttpMethod method, string path, Role? role, string? body = null);

    Task<GrpcResult> CallAsync(string rpc, IMessage request, Role? role);
}

/// <summary>
/// Walks <see cref="PolicyTable"/>: every REST endpoint and every RPC × every role, and no credentials. A role the
/// table asks for (or admin) gets past authorization; any other gets 403 / PERMISSION_DENIED naming the principal and
/// the role it lacks; no credentials get 401 with <c>WWW-Authenticate</c> / UNAUTHENTICATED. Requests name a model,
/// endpoint or job that does not exist, so an allowed one changes nothing and gets the endpoint's own answer.
/// </summary>
public static class PolicyTableWalk
{
    public const string MissingModel = "no_such_model";

    private static readonly Role[] s_roles = Enum.GetValues<Role>();

    /// <summary>Every REST endpoint that needs a role; returns what went wrong, one line each.</summary>
    public static async Task<List<string>> RestAsync(IRoleCaller caller)
    {
        var failures = new List<string>();
        foreach (((string method, string pattern), Access access) in PolicyTable.Rest)
        {
            if (access.Role is not { } needed)
            {
                continue;
            }

            string path = Concrete(pattern);
            string? body = method is "POST" or "PUT" ? "{}" : null;
            foreach (Role role in s_roles)
            {
                (int status, string text, _) = await caller.SendAsync(new HttpMethod(method), path, role, body);
                if (Allowed(role, needed) && status is 401 or 403)
                {
                    failures.Add($"{RoleNames.Of(role)} {method} {path}: {status} {text}");
                }
                else if (!Allowed(role, needed) && (status != 403 || !NamesTheRefusal(text, caller.NameOf(role), needed)))
                {
                    failures.Add($"{RoleNames.Of(role)} {method} {path}: expected 403, got {status} {text}");
                }
            }

            (int anonymous, string anonymousText, var headers) = await caller.SendAsync(new HttpMethod(method), path, null, body);
            if (anonymous != 401 || !headers.WwwAuthenticate.ToString().StartsWith("Bearer", StringComparison.Ordinal)
                || JsonNode.Parse(anonymousText)?["error"] is null)
            {
                failures.Add($"no credentials {method} {path}: expected 401 with WWW-Authenticate and an error, got {anonymous} {anonymousText}");
            }
        }

        return failures;
    }

    /// <summary>Every RPC of the gRPC service; returns what went wrong, one line each.</summary>
    public static async Task<List<string>> GrpcAsync(IRoleCaller caller)
    {
        var failures = new List<string>();
        foreach ((string rpc, Access access) in PolicyTable.Grpc)
        {
            Role needed = access.Role!.Value;
            IMessage request = RequestFor(rpc);
            foreach (Role role in s_roles)
            {
                GrpcResult result = await caller.CallAsync(rpc, request, role);
                if (Allowed(role, needed) && result.Status is 16 or 7)
                {
                    failures.Add($"{RoleNames.Of(role)} {rpc}: {result.Status} {result.GrpcMessage}");
                }
                else if (!Allowed(role, needed) && (result.Status != 7 || !NamesTheRefusal(result.GrpcMessage, caller.NameOf(role), needed)))
                {
                    failures.Add($"{RoleNames.Of(role)} {rpc}: expected PERMISSION_DENIED, got {result.Status} {result.GrpcMessage}");
                }
            }

            GrpcResult anonymous = await caller.CallAsync(rpc, request, null);
            if (anonymous.HttpStatus != 200 || anonymous.Status != 16 || anonymous.GrpcMessage.Length == 0)
            {
                failures.Add($"no credentials {rpc}: expected UNAUTHENTICATED, got HTTP {anonymous.HttpStatus} grpc-status {anonymous.Status}");
            }
        }

        return failures;
    }

    /// <summary>
    /// Allowed calls on a real model (an identity of FP32 [batch, 3] named <paramref name="model"/>) get their real
    /// answers: metadata and inference over REST and gRPC; returns what went wrong.
    /// </summary>
    public static async Task<List<string>> RealAnswersAsync(IRoleCaller caller, string model)
    {
        var failures = new List<string>();
        (int metadata, string body, _) = await caller.SendAsync(HttpMethod.Get, $"/v2/models/{model}", Role.Viewer);
        if (metadata != 200 || !body.Contains($"\"name\":\"{model}\"", StringComparison.Ordinal))
        {
            failures.Add($"viewer GET /v2/models/{model}: {metadata} {body}");
        }

        (int infer, string inferred, _) = await caller.SendAsync(HttpMethod.Post, $"/v2/models/{model}/infer", Role.Predictor,
            """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""");
        if (infer != 200 || !inferred.Contains("\"data\":[1,2,3]", StringComparison.Ordinal))
        {
            failures.Add($"predictor POST /v2/models/{model}/infer: {infer} {inferred}");
        }

        (int metrics, _, _) = await caller.SendAsync(HttpMethod.Get, "/metrics", Role.Viewer);
        if (metrics != 200)
        {
            failures.Add($"viewer GET /metrics: {metrics}");
        }

        GrpcResult grpcMetadata = await caller.CallAsync("ModelMetadata", new ModelMetadataRequest { Name = model }, Role.Viewer);
        if (grpcMetadata.Status != 0)
        {
            failures.Add($"viewer ModelMetadata: {grpcMetadata.Status} {grpcMetadata.GrpcMessage}");
        }

        var input = new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Contents = new InferTensorContents() };
        input.Shape.AddRange([1, 3]);
        input.Contents.Fp32Contents.AddRange([1, 2, 3]);
        var inferRequest = new ModelInferRequest { ModelName = model };
        inferRequest.Inputs.Add(input);
        GrpcResult grpcInfer = await caller.CallAsync("ModelInfer", inferRequest, Role.Predictor);
        if (grpcInfer.Status != 0 || grpcInfer.Messages.Count != 1)
        {
            failures.Add($"predictor ModelInfer: {grpcInfer.Status} {grpcInfer.GrpcMessage}");
        }

        return failures;
    }

    private static bool Allowed(Role role, Role needed) => role == Role.Admin || role == needed;

    private static bool NamesTheRefusal(string message, string principal, Role needed) =>
        message.Contains($"'{principal}' may not call", StringComparison.Ordinal)
        && message.Contains($"needs the {RoleNames.Of(needed)} role", StringComparison.Ordinal);

    // A path for a route pattern, naming things that do not exist so an allowed call changes nothing.
    private static string Concrete(string pattern) => pattern
        .Replace("{model}", MissingModel, StringComparison.Ordinal)
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
        "ModelReady" => new ModelReadyRequest { Name = MissingModel },
        "ModelMetadata" => new ModelMetadataRequest { Name = MissingModel },
        "ModelConfig" => new ModelConfigRequest { Name = MissingModel },
        "ModelStatistics" => new ModelStatisticsRequest { Name = MissingModel },
        "RepositoryIndex" => new RepositoryIndexRequest(),
        "ModelInfer" or "ModelStreamInfer" => new ModelInferRequest { ModelName = MissingModel },
        "RepositoryModelLoad" => new RepositoryModelLoadRequest { ModelName = MissingModel },
        "RepositoryModelUnload" => new RepositoryModelUnloadRequest { ModelName = MissingModel },
        _ => throw new ArgumentException($"no sample request for {rpc}; add one"),
    };
}

/// <summary>
/// The policy table walked by one kind of identity: every REST endpoint and RPC × every role, and the allowed calls'
/// real answers. Each identity kind's class derives from this with its own server and caller.
/// </summary>
public abstract class PolicyTableMatrix(IRoleCaller caller, string model)
{
    [Fact]
    public async Task EveryRestEndpoint_AllowsItsRole_AndRefusesTheOthers()
    {
        List<string> failures = await PolicyTableWalk.RestAsync(caller);

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task EveryRpc_AllowsItsRole_AndRefusesTheOthers()
    {
        List<string> failures = await PolicyTableWalk.GrpcAsync(caller);

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task AllowedRequests_ReachTheEndpoint_WithTheirRealAnswers()
    {
        List<string> failures = await PolicyTableWalk.RealAnswersAsync(caller, model);

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }
}
