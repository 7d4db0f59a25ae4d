using System.Text;
using System.Text.Json.Nodes;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// The surfaces beyond a model's own routes, scoped by tenant: acme's key gets for globex's traffic endpoint,
/// experiment, rollout or batch job exactly what it gets for one that does not exist (status and body, the name
/// swapped), a request naming globex's model in its body answers as for a missing model, and lists and the dashboard
/// leave them out; globex's key and keys without a tenant still see them. Its own server: these tests change
/// endpoints, rollouts and jobs, which the shared secured server's other tests do not expect.
/// </summary>
public sealed class TenantScopeTests(SecuredServer secured) : IClassFixture<SecuredServer>
{
    private const string InferBody = """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""";

    private string Acme => secured.Keys["acme"].Key;

    private string Globex => secured.Keys["globex"].Key;

    private static string Variants(string model) => $$"""{"variants": [{"name": "a", "model": "{{model}}", "version": "1", "weight": 100}]}""";

    [Fact]
    public async Task AnotherTenantsEndpoint_AnswersAsAMissingOne_AndListsLeaveItOut()
    {
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Put, "/v2/admin/endpoints/globex_shop", Globex, Variants(SecuredServer.GlobexModel))).Status);

        await AssertSameAsMissingAsync(HttpMethod.Get, "/v2/admin/endpoints/{n}", "globex_shop", "no_shop");
        await AssertSameAsMissingAsync(HttpMethod.Delete, "/v2/admin/endpoints/{n}", "globex_shop", "no_shop");
        await AssertSameAsMissingAsync(HttpMethod.Post, "/v2/models/{n}/infer", "globex_shop", "no_shop", InferBody);
        await AssertSameAsMissingAsync(HttpMethod.Get, "/v2/models/{n}", "globex_shop", "no_shop");
        GrpcResult grpcMissing = await secured.CallAsync("ModelInfer", new ModelInferRequest { ModelName = "no_shop" }, Acme);
        GrpcResult grpcHidden = await secured.CallAsync("ModelInfer", new ModelInferRequest { ModelName = "globex_shop" }, Acme);
        Assert.Equal(5, grpcMissing.Status);
        Assert.Equal((5, grpcMissing.GrpcMessage.Replace("no_shop", "globex_shop", StringComparison.Ordinal)), (grpcHidden.Status, grpcHidden.GrpcMessage));
        Assert.Contains(secured.Audit.Events, e => e.Action == "auth.denied" && e.Tenant == "acme" && e.Details == "model 'globex_shop' belongs to another tenant");

        // The name is taken: acme cannot redefine globex's endpoint (it reads as missing, and stays as it was).
        var taken = await secured.SendAsync(HttpMethod.Put, "/v2/admin/endpoints/globex_shop", Acme, Variants(SecuredServer.AcmeModel));
        Assert.Equal(404, taken.Status);
        Assert.Equal("""{"error":"endpoint 'globex_shop' does not exist."}""", taken.Body);

        var own = await secured.SendAsync(HttpMethod.Get, "/v2/admin/endpoints/globex_shop", Globex);
        Assert.Equal(200, own.Status);
        Assert.Equal(SecuredServer.GlobexModel, (string?)JsonNode.Parse(own.Body)!["variants"]![0]!["model"]);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Post, "/v2/models/globex_shop/infer", Globex, InferBody)).Status);

        Assert.DoesNotContain("globex_shop", await EndpointNamesAsync(Acme));
        Assert.Contains("globex_shop", await EndpointNamesAsync(Globex));
        Assert.Contains("globex_shop", await EndpointNamesAsync(secured.Keys["viewer"].Key));
        Assert.DoesNotContain("globex_shop", DashboardEndpoints(await DashboardAsync(Acme)));
        Assert.Contains("globex_shop", DashboardEndpoints(await DashboardAsync(Globex)));
        Assert.Contains("globex_shop", DashboardEndpoints(await DashboardAsync(secured.Keys["viewer"].Key)));
    }

    [Fact]
    public async Task DefiningAnEndpointOnAnotherTenantsModel_AnswersAsForAMissingModel()
    {
        string shadowed(string model) => $$"""
            {"variants": [{"name": "a", "model": "{{SecuredServer.AcmeModel}}", "version": "1", "weight": 100}],
             "shadow": {"model": "{{model}}", "version": "1", "percent": 10} }
            """;
        string idle(string model) => $$"""
            {"variants": [{"name": "a", "model": "{{SecuredServer.AcmeModel}}", "version": "1", "weight": 100},
                          {"name": "b", "model": "{{model}}", "version": "1", "weight": 0}]}
            """;

        await AssertSameAsMissingModelAsync(HttpMethod.Put, "/v2/admin/endpoints/acme_new", Variants);
        await AssertSameAsMissingModelAsync(HttpMethod.Put, "/v2/admin/endpoints/acme_new", shadowed);

        // A variant without traffic is not checked for a missing model, but another tenant's is still refused (as missing).
        var idleHidden = await secured.SendAsync(HttpMethod.Put, "/v2/admin/endpoints/acme_new", Acme, idle(SecuredServer.GlobexModel));
        Assert.Equal(404, idleHidden.Status);
        Assert.Equal($$"""{"error":"variant 'b' cannot serve: model '{{SecuredServer.GlobexModel}}' not found in the repository."}""", idleHidden.Body);

        Assert.Equal(404, (await secured.SendAsync(HttpMethod.Get, "/v2/admin/endpoints/acme_new", secured.Keys["viewer"].Key)).Status);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Put, "/v2/admin/endpoints/acme_new", Acme, shadowed(SecuredServer.SharedModel))).Status);
        Assert.Contains("acme_new", await EndpointNamesAsync(Acme));
    }

    [Fact]
    public async Task AnotherTenantsExperiment_AnswersAsAMissingOne()
    {
        string definition = $$"""
            {"variants": [{"name": "a", "model": "{{SecuredServer.GlobexModel}}", "version": "1", "weight": 50},
                          {"name": "b", "model": "{{SecuredServer.GlobexModel}}", "version": "1", "weight": 50}],
             "experiment": {"metric": "binary", "minimum_samples": 100} }
            """;
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Put, "/v2/admin/endpoints/globex_ab", Globex, definition)).Status);
        var served = await secured.SendAsync(HttpMethod.Post, "/v2/models/globex_ab/infer", Globex, InferBody);
        Assert.True(served.Status == 200, served.Body);
        string id = (string)JsonNode.Parse(served.Body)!["id"]!;

        await AssertSameAsMissingAsync(HttpMethod.Get, "/v2/admin/experiments/{n}", "globex_ab", "no_ab");
        await AssertSameAsMissingAsync(HttpMethod.Post, "/v2/admin/experiments/{n}/conclude", "globex_ab", "no_ab", """{"winner": "a"}""");
        var feedback = await secured.SendAsync(HttpMethod.Post, "/v2/feedback", Acme, $$"""{"id": "{{id}}", "outcome": true}""");
        var unknown = await secured.SendAsync(HttpMethod.Post, "/v2/feedback", Acme, """{"id": "no-such-request", "outcome": true}""");
        Assert.Equal(404, unknown.Status);
        Assert.Equal((unknown.Status, unknown.Body.Replace("no-such-request", id, StringComparison.Ordinal)), (feedback.Status, feedback.Body));

        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Get, "/v2/admin/experiments/globex_ab", Globex)).Status);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Post, "/v2/feedback", Globex, $$"""{"id": "{{id}}", "outcome": true}""")).Status);
        Assert.DoesNotContain("globex_ab", await EndpointNamesAsync(Acme));
        Assert.Contains("globex_ab", await EndpointNamesAsync(secured.Keys["viewer"].Key));
    }

    [Fact]
    public async Task RolloutsOfAnotherTenantsModel_AnswerAsForAMissingModel_AndListsLeaveThemOut()
    {
        string start(string model) => $$"""{"model": "{{model}}", "to": 2, "steps": [50, 100], "interval_seconds": 3600}""";
        string badSteps(string model) => $$"""{"model": "{{model}}", "to": 2, "steps": "half"}""";
        await AssertSameAsMissingModelAsync(HttpMethod.Post, "/v2/admin/rollouts", start);
        await AssertSameAsMissingModelAsync(HttpMethod.Post, "/v2/admin/rollouts", badSteps);

        // Globex rolls its own model out: a second version, the first promoted as the baseline.
        byte[] second = SampleModels.Identity(TensorElementType.Float, Dim.Named("rows"), Dim.Of(3)).ToBytes();
        var pushed = await SendBytesAsync($"/v2/admin/models/{SecuredServer.GlobexModel}/versions", second, "application/octet-stream", Globex);
        Assert.True(pushed.Status == 201, pushed.Body);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Post, $"/v2/admin/models/{SecuredServer.GlobexModel}/promote", Globex, """{"version": 1}""")).Status);
        var started = await secured.SendAsync(HttpMethod.Post, "/v2/admin/rollouts", Globex, start(SecuredServer.GlobexModel));
        Assert.True(started.Status == 201, started.Body);

        // Now that it has one, acme still reads it as missing (not "already has a rollout").
        await AssertSameAsMissingModelAsync(HttpMethod.Post, "/v2/admin/rollouts", start);
        await AssertSameAsMissingAsync(HttpMethod.Get, "/v2/admin/rollouts/{n}", SecuredServer.GlobexModel, "missing_model");

        Assert.DoesNotContain(SecuredServer.GlobexModel, await RolloutModelsAsync(Acme));
        Assert.Contains(SecuredServer.GlobexModel, await RolloutModelsAsync(Globex));
        Assert.Contains(SecuredServer.GlobexModel, await RolloutModelsAsync(secured.Keys["viewer"].Key));
        Assert.DoesNotContain(SecuredServer.GlobexModel, DashboardRollouts(await DashboardAsync(Acme)));
        Assert.Contains(SecuredServer.GlobexModel, DashboardRollouts(await DashboardAsync(Globex)));
        Assert.Contains(SecuredServer.GlobexModel, DashboardRollouts(await DashboardAsync(secured.Keys["viewer"].Key)));
    }

    [Fact]
    public async Task AnotherTenantsBatchJob_AnswersAsAnUnknownJob_AndSubmittingForItsModelAsForAMissingModel()
    {
        string folder = Directory.CreateTempSubdirectory("quiver-tenant-batch-").FullName;
        try
        {
            string input = Path.Combine(folder, "in.csv");
            File.WriteAllText(input, "a,b,c\n1,2,3\n4,5,6\n");
            string quoted = JsonValue.Create(input).ToJsonString();
            string absent = JsonValue.Create(Path.Combine(folder, "absent.csv")).ToJsonString();
            await AssertSameAsMissingModelAsync(HttpMethod.Post, "/v2/admin/batch/jobs", m => $$"""{"model": "{{m}}", "input": {{quoted}}}""");
            await AssertSameAsMissingModelAsync(HttpMethod.Post, "/v2/admin/batch/jobs", m => $$"""{"model": "{{m}}", "input": {{absent}}}""");
            byte[] csv = Encoding.UTF8.GetBytes("a,b,c\n1,2,3\n");
            var uploadHidden = await SendBytesAsync($"/v2/admin/batch/jobs?model={SecuredServer.GlobexModel}", csv, "text/csv", Acme);
            var uploadMissing = await SendBytesAsync("/v2/admin/batch/jobs?model=missing_model", csv, "text/csv", Acme);
            Assert.Equal(404, uploadMissing.Status);
            Assert.Equal((uploadMissing.Status, uploadMissing.Body.Replace("missing_model", SecuredServer.GlobexModel, StringComparison.Ordinal)),
                (uploadHidden.Status, uploadHidden.Body));

            var submitted = await secured.SendAsync(HttpMethod.Post, "/v2/admin/batch/jobs", Globex, $$"""{"model": "{{SecuredServer.GlobexModel}}", "input": {{quoted}}}""");
            Assert.True(submitted.Status == 201, submitted.Body);
            string id = (string)JsonNode.Parse(submitted.Body)!["id"]!;

            await AssertSameAsMissingAsync(HttpMethod.Get, "/v2/admin/batch/jobs/{n}", id, "nosuchjob000");
            await AssertSameAsMissingAsync(HttpMethod.Get, "/v2/admin/batch/jobs/{n}/output", id, "nosuchjob000");
            await AssertSameAsMissingAsync(HttpMethod.Get, "/v2/admin/batch/jobs/{n}/errors", id, "nosuchjob000");
            await AssertSameAsMissingAsync(HttpMethod.Delete, "/v2/admin/batch/jobs/{n}", id, "nosuchjob000");

            Assert.DoesNotContain(id, await JobIdsAsync(Acme));
            Assert.Contains(id, await JobIdsAsync(Globex));
            Assert.Contains(id, await JobIdsAsync(secured.Keys["deployer"].Key));

            // Globex's job was not cancelled by acme's DELETE, and runs to the end (before its input is deleted).
            string? state;
            var deadline = DateTime.UtcNow.AddMinutes(3);
            do
            {
                await Task.Delay(50);
                state = (string?)(await GetJsonAsync($"/v2/admin/batch/jobs/{id}", Globex))["state"];
            }
            while (state is "queued" or "running" && DateTime.UtcNow < deadline);

            Assert.Equal("completed", state);
            Assert.Equal(200, (await secured.SendAsync(HttpMethod.Get, $"/v2/admin/batch/jobs/{id}/output", Globex)).Status);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task TheDashboard_ShowsATenantOnlyTheModelsItSees()
    {
        JsonNode acme = await DashboardAsync(Acme);
        JsonNode globex = await DashboardAsync(Globex);
        JsonNode everything = await DashboardAsync(secured.Keys["viewer"].Key);

        Assert.Equal([SecuredServer.AcmeModel, SecuredServer.SharedModel], DashboardModels(acme));
        Assert.Equal(2, (int)acme["totals"]!["models"]!);
        Assert.Equal([SecuredServer.GlobexModel, SecuredServer.SharedModel], DashboardModels(globex));
        Assert.Equal([SecuredServer.AcmeModel, SecuredServer.GlobexModel, SecuredServer.SharedModel], DashboardModels(everything));
    }

    // The route answers acme for the hidden name exactly as for the missing one, and that is a 404.
    private async Task AssertSameAsMissingAsync(HttpMethod method, string path, string hiddenName, string missingName, string? body = null)
    {
        var missing = await secured.SendAsync(method, path.Replace("{n}", missingName, StringComparison.Ordinal), Acme, body);
        var hidden = await secured.SendAsync(method, path.Replace("{n}", hiddenName, StringComparison.Ordinal), Acme, body);
        Assert.True(missing.Status == 404, $"{method} {path} of a missing one: {missing.Status} {missing.Body}");
        Assert.Equal((missing.Status, missing.Body.Replace(missingName, hiddenName, StringComparison.Ordinal)), (hidden.Status, hidden.Body));
    }

    // A body naming globex's model gets from acme exactly what the same body naming a missing model gets.
    private async Task AssertSameAsMissingModelAsync(HttpMethod method, string path, Func<string, string> body)
    {
        var missing = await secured.SendAsync(method, path, Acme, body("missing_model"));
        var hidden = await secured.SendAsync(method, path, Acme, body(SecuredServer.GlobexModel));
        Assert.True(missing.Status is 400 or 404, $"{method} {path} naming a missing model: {missing.Status} {missing.Body}");
        Assert.Equal((missing.Status, missing.Body.Replace("missing_model", SecuredServer.GlobexModel, StringComparison.Ordinal)), (hidden.Status, hidden.Body));
    }

    private async Task<(int Status, string Body)> SendBytesAsync(string path, byte[] content, string type, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(content) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(type);
        request.Headers.TryAddWithoutValidation("X-API-Key", key);
        using HttpResponseMessage response = await secured.Server.Client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonNode> GetJsonAsync(string path, string key)
    {
        var (status, body, _) = await secured.SendAsync(HttpMethod.Get, path, key);
        Assert.True(status == 200, $"{path}: {status} {body}");
        return JsonNode.Parse(body)!;
    }

    private async Task<List<string>> EndpointNamesAsync(string key) =>
        Strings((await GetJsonAsync("/v2/admin/endpoints", key))["endpoints"]!, "name");

    private async Task<List<string>> RolloutModelsAsync(string key) =>
        Strings((await GetJsonAsync("/v2/admin/rollouts", key))["rollouts"]!, "model");

    private async Task<List<string>> JobIdsAsync(string key) =>
        Strings((await GetJsonAsync("/v2/admin/batch/jobs", key))["jobs"]!, "id");

    private Task<JsonNode> DashboardAsync(string key) => GetJsonAsync("/v2/admin/dashboard", key);

    private static List<string> DashboardModels(JsonNode dashboard) => Strings(dashboard["models"]!, "name").Order(StringComparer.Ordinal).ToList();

    private static List<string> DashboardEndpoints(JsonNode dashboard) => Strings(dashboard["endpoints"]!, "name");

    private static List<string> DashboardRollouts(JsonNode dashboard) => Strings(dashboard["rollouts"]!, "model");

    private static List<string> Strings(JsonNode array, string property) =>
        array.AsArray().Select(n => (string)n![property]!).ToList();
}
