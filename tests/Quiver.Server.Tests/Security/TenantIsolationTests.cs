using System.Text.Json.Nodes;
using Quiver.Core.Registry;
using Quiver.Server.Security;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// A tenant's principal asking for another tenant's model gets exactly what it would get for a model that does not
/// exist, on every path that names a model, over REST and gRPC, and never sees it in a list.
/// </summary>
[Collection(SecuredServerCollection.Name)]
public sealed class TenantIsolationTests(SecuredServer secured)
{
    private const string Missing = "missing_model";

    private const string InferBody = """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""";

    // Every route of the policy table that names a model, so a new one is covered without editing this test. Not the
    // push: pushing to a name nobody has creates the model, so there a taken name (any tenant's) differs by nature.
    private static IEnumerable<(string Method, string Path, string? Body)> ModelRoutes() =>
        PolicyTable.Rest.Keys.Where(k => k.Pattern.Contains("{model}", StringComparison.Ordinal) && k.Pattern != "/v2/admin/models/{model}/versions")
            .Select(k => (k.Method,
            k.Pattern.Replace("{model}", "{m}", StringComparison.Ordinal).Replace("{version}", "1", StringComparison.Ordinal)
                .Replace("{alias}", "staging", StringComparison.Ordinal)
                .Replace("{action}", k.Pattern.Contains("bluegreen", StringComparison.Ordinal) ? "rollback" : "pause", StringComparison.Ordinal),
            k.Method is "GET" or "DELETE" ? null : k.Pattern.EndsWith("/infer", StringComparison.Ordinal) ? InferBody : """{"version": 1}"""));

    [Fact]
    public async Task AnotherTenantsModel_AnswersExactlyAsAMissingModel_OnEveryRestPath()
    {
        string acme = secured.Keys["acme"].Key;
        var differences = new List<string>();
        foreach ((string method, string path, string? body) in ModelRoutes())
        {
            var missing = await secured.SendAsync(new HttpMethod(method), path.Replace("{m}", Missing), acme, body);
            var hidden = await secured.SendAsync(new HttpMethod(method), path.Replace("{m}", SecuredServer.GlobexModel), acme, body);
            string expected = missing.Body.Replace(Missing, SecuredServer.GlobexModel, StringComparison.Ordinal);
            if (missing.Status != 404 || hidden.Status != missing.Status || hidden.Body != expected)
            {
                differences.Add($"{method} {path}: missing {missing.Status} {missing.Body} / hidden {hidden.Status} {hidden.Body}");
            }
        }

        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
        Assert.True(ModelRoutes().Count() > 20, "the policy table's model routes were not found");

        // Its own and the shared models it does see.
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Get, "/v2/models/" + SecuredServer.AcmeModel, acme)).Status);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Get, "/v2/models/" + SecuredServer.SharedModel, acme)).Status);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Get, "/v2/models/" + SecuredServer.GlobexModel, secured.Keys["globex"].Key)).Status);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Get, "/v2/models/" + SecuredServer.GlobexModel, secured.Keys["viewer"].Key)).Status);
    }

    // The model routes again with a version that is not a number and a body that is not what the route takes, so
    // each fails on the request before or at the model's lookup.
    private static IEnumerable<(string Method, string Path, string? Body)> MalformedModelRoutes() =>
        ModelRoutes().Select(r => (r.Method,
            r.Path.Replace("/versions/1", "/versions/first", StringComparison.Ordinal).Replace("/bluegreen/rollback", "/bluegreen/sideways", StringComparison.Ordinal),
            r.Body is null ? null : """{"version": "three", "alias": 3, "reason": 4, "inputs": 5}"""));

    [Fact]
    public async Task AnotherTenantsModel_WithAMalformedRequest_AnswersExactlyAsAMissingModel()
    {
        string acme = secured.Keys["acme"].Key;
        var differences = new List<string>();
        int refusedAsBad = 0;
        foreach ((string method, string path, string? body) in MalformedModelRoutes())
        {
            var missing = await secured.SendAsync(new HttpMethod(method), path.Replace("{m}", Missing), acme, body);
            var hidden = await secured.SendAsync(new HttpMethod(method), path.Replace("{m}", SecuredServer.GlobexModel), acme, body);
            if (hidden.Status != missing.Status || hidden.Body != missing.Body.Replace(Missing, SecuredServer.GlobexModel, StringComparison.Ordinal))
            {
                differences.Add($"{method} {path}: missing {missing.Status} {missing.Body} / hidden {hidden.Status} {hidden.Body}");
            }

            refusedAsBad += missing.Status == 400 ? 1 : 0;
        }

        Assert.True(differences.Count == 0, string.Join(Environment.NewLine, differences));
        // Promote, aliases, rollback, retire, blue-green (start and action), a version's page and inference at least.
        Assert.True(refusedAsBad >= 8, $"only {refusedAsBad} routes refused the malformed request");
    }

    [Fact]
    public async Task AnotherTenantsModel_IsNotFound_OverGrpc()
    {
        string acme = secured.Keys["acme"].Key;
        var requests = new (string Rpc, Func<string, Google.Protobuf.IMessage> For)[]
        {
            ("ModelMetadata", m => new ModelMetadataRequest { Name = m }),
            ("ModelReady", m => new ModelReadyRequest { Name = m }),
            ("ModelConfig", m => new ModelConfigRequest { Name = m }),
            ("ModelStatistics", m => new ModelStatisticsRequest { Name = m }),
            ("ModelInfer", m => new ModelInferRequest { ModelName = m }),
            ("RepositoryModelUnload", m => new RepositoryModelUnloadRequest { ModelName = m }),
        };
        foreach ((string rpc, var build) in requests)
        {
            GrpcResult missing = await secured.CallAsync(rpc, build(Missing), acme);
            GrpcResult hidden = await secured.CallAsync(rpc, build(SecuredServer.GlobexModel), acme);

            Assert.True(missing.Status == 5, $"{rpc} of a missing model: {missing.Status} {missing.GrpcMessage}");
            Assert.True(hidden.Status == 5, $"{rpc} of another tenant's model: {hidden.Status} {hidden.GrpcMessage}");
            Assert.Equal(missing.GrpcMessage.Replace(Missing, SecuredServer.GlobexModel, StringComparison.Ordinal), hidden.GrpcMessage);
        }

        GrpcResult own = await secured.CallAsync("ModelMetadata", new ModelMetadataRequest { Name = SecuredServer.AcmeModel }, acme);
        Assert.Equal(0, own.Status);
    }

    [Fact]
    public async Task AnotherTenantsModel_IsRefusedInAStream_AsAMissingModel()
    {
        string acme = secured.Keys["acme"].Key;
        byte[] frames = [.. GrpcTestClient.Frame(new ModelInferRequest { ModelName = Missing, Id = "a" }),
            .. GrpcTestClient.Frame(new ModelInferRequest { ModelName = SecuredServer.GlobexModel, Id = "b" })];

        GrpcResult result = await secured.Grpc.CallAsync("ModelStreamInfer", frames, new Dictionary<string, string> { ["x-api-key"] = acme });

        Assert.Equal(0, result.Status);
        var errors = result.Messages.Select(m => ModelStreamInferResponse.Parser.ParseFrom(m))
            .ToDictionary(r => r.InferResponse.Id, r => r.ErrorMessage);
        Assert.NotEmpty(errors["a"]);
        Assert.Equal(errors["a"].Replace(Missing, SecuredServer.GlobexModel, StringComparison.Ordinal), errors["b"]);
    }

    [Fact]
    public async Task Lists_LeaveOutOtherTenantsModels()
    {
        string acme = secured.Keys["acme"].Key;

        var index = await secured.SendAsync(HttpMethod.Post, "/v2/repository/index", acme, "{}");
        var stats = await secured.SendAsync(HttpMethod.Get, "/v2/models/stats", acme);
        var admin = await secured.SendAsync(HttpMethod.Get, "/v2/admin/models", acme);
        var everything = await secured.SendAsync(HttpMethod.Post, "/v2/repository/index", secured.Keys["viewer"].Key, "{}");

        Assert.Equal([SecuredServer.AcmeModel, SecuredServer.SharedModel], Names(JsonNode.Parse(index.Body)!.AsArray(), "name"));
        Assert.Equal([SecuredServer.AcmeModel, SecuredServer.SharedModel], Names(JsonNode.Parse(stats.Body)!["model_stats"]!.AsArray(), "name").Distinct());
        Assert.Equal([SecuredServer.AcmeModel, SecuredServer.SharedModel],
            Names(JsonNode.Parse(admin.Body)!["models"]!.AsArray(), "name").Where(n => n != "acme_pushed"));
        Assert.Contains(SecuredServer.GlobexModel, Names(JsonNode.Parse(everything.Body)!.AsArray(), "name"));

        GrpcResult grpcIndex = await secured.CallAsync("RepositoryIndex", new RepositoryIndexRequest(), acme);
        GrpcResult grpcStats = await secured.CallAsync("ModelStatistics", new ModelStatisticsRequest(), acme);
        Assert.DoesNotContain(SecuredServer.GlobexModel, RepositoryIndexResponse.Parser.ParseFrom(grpcIndex.Messages[0]).Models.Select(m => m.Name));
        Assert.Contains(SecuredServer.AcmeModel, RepositoryIndexResponse.Parser.ParseFrom(grpcIndex.Messages[0]).Models.Select(m => m.Name));
        Assert.DoesNotContain(SecuredServer.GlobexModel, ModelStatisticsResponse.Parser.ParseFrom(grpcStats.Messages[0]).ModelStats.Select(m => m.Name));
    }

    [Fact]
    public async Task APush_IsOwnedByThePushersTenant_AndHiddenFromOthers()
    {
        IModelRegistry registry = secured.Server.Server.Lifecycle.Registry;
        byte[] model = File.ReadAllBytes(Path.Combine(secured.Root, SecuredServer.SharedModel, "1", "model.onnx"));

        var pushed = await PushAsync("acme_pushed", model, secured.Keys["acme"].Key);
        var otherTenant = await PushAsync("acme_other", model, secured.Keys["acme"].Key, "?tenant=globex");
        var intoShared = await PushAsync(SecuredServer.SharedModel, model, secured.Keys["acme"].Key);
        var byAdmin = await PushAsync("named_tenant", model, secured.Keys["admin"].Key, "?tenant=globex");

        Assert.True(pushed.Status == 201, pushed.Body);
        Assert.Equal("acme", (await registry.GetModelAsync("acme_pushed"))!.Tenant);
        Assert.Equal(404, (await secured.SendAsync(HttpMethod.Get, "/v2/admin/models/acme_pushed", secured.Keys["globex"].Key)).Status);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Get, "/v2/admin/models/acme_pushed", secured.Keys["acme"].Key)).Status);
        Assert.Equal(400, otherTenant.Status);
        Assert.Contains("cannot push a model for tenant 'globex'", otherTenant.Body);
        Assert.Equal(409, intoShared.Status);
        Assert.Contains("shared by every tenant", intoShared.Body);
        Assert.True(byAdmin.Status == 201, byAdmin.Body);
        Assert.Equal("globex", (await registry.GetModelAsync("named_tenant"))!.Tenant);
    }

    private async Task<(int Status, string Body)> PushAsync(string name, byte[] model, string key, string query = "")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/admin/models/{name}/versions{query}") { Content = new ByteArrayContent(model) };
        request.Headers.TryAddWithoutValidation("X-API-Key", key);
        using HttpResponseMessage response = await secured.Server.Client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static List<string> Names(JsonArray array, string property) =>
        array.Select(n => n![property]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
}
