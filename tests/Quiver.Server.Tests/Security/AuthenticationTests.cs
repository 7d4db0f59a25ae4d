using Quiver.Core.Security;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>Bad credentials on the real server: revoked and expired keys, wrong secrets, malformed headers; REST and gRPC.</summary>
[Collection(SecuredServerCollection.Name)]
public sealed class AuthenticationTests(SecuredServer secured)
{
    private const string MetadataPath = "/v2/models/" + SecuredServer.SharedModel;

    [Fact]
    public async Task ARevokedKey_IsRefusedAtItsNextRequest_SayingWhen()
    {
        var manager = new ApiKeyManager(secured.Server.Server.Lifecycle.Registry, TimeProvider.System);
        CreatedApiKey key = await manager.CreateAsync("soon-revoked", [Role.Viewer], null, null);
        Assert.Equal(200, (await secured.SendAsync(HttpMethod.Get, MetadataPath, key.Key)).Status);

        ApiKey revoked = await manager.RevokeAsync(key.Record.Id);
        (int status, string body, var headers) = await secured.SendAsync(HttpMethod.Get, MetadataPath, key.Key);
        GrpcResult grpc = await secured.CallAsync("ServerMetadata", new ServerMetadataRequest(), key.Key);

        Assert.Equal(401, status);
        Assert.Contains($"API key {key.Record.Id} ('soon-revoked') was revoked at {revoked.RevokedAt!.Value.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}", body);
        Assert.Contains("Bearer realm=\"quiver\"", headers.WwwAuthenticate.ToString());
        Assert.Equal(16, grpc.Status);
        Assert.Contains("was revoked at", grpc.GrpcMessage);
    }

    [Fact]
    public async Task Refusals_AreCountedOnMetrics_ByReason()
    {
        // The metrics port needs a viewer too; the admin key reads the counters.
        string admin = secured.Keys["admin"].Key;
        async Task<Monitoring.PrometheusText> ScrapeAsync() =>
            Monitoring.PrometheusText.Parse((await secured.SendAsync(HttpMethod.Get, "/metrics", admin)).Body);
        Monitoring.PrometheusText before = await ScrapeAsync();

        Assert.Equal(401, (await secured.SendAsync(HttpMethod.Get, MetadataPath, "qk_0000000000000000_nope")).Status);
        Assert.Equal(403, (await secured.SendAsync(HttpMethod.Post, "/v2/admin/rollouts", secured.Keys["viewer"].Key)).Status);

        Monitoring.PrometheusText after = await ScrapeAsync();
        foreach (string reason in new[] { "unauthenticated", "forbidden" })
        {
            Assert.True(after.Value("quiver_auth_failures_total", ("reason", reason)) >= before.ValueOrZero("quiver_auth_failures_total", ("reason", reason)) + 1, reason);
        }
    }

    [Fact]
    public async Task AnExpiredKey_IsRefused_SayingWhenItExpired()
    {
        // Stored as quiver keys create would have stored it a month ago, with a one-day expiry.
        (string id, string secret, string key) = ApiKeySecret.Generate();
        DateTimeOffset expired = DateTimeOffset.UtcNow.AddDays(-29);
        await secured.Server.Server.Lifecycle.Registry.AddApiKeyAsync(new ApiKey
        {
            Id = id, Name = "old-job", Roles = new HashSet<Role> { Role.Viewer }, SecretSha256 = ApiKeySecret.Hash(secret),
            CreatedAt = expired.AddDays(-1), ExpiresAt = expired,
        });

        (int status, string body, _) = await secured.SendAsync(HttpMethod.Get, MetadataPath, key, header: "Authorization");
        GrpcResult grpc = await secured.CallAsync("ModelMetadata", new ModelMetadataRequest { Name = SecuredServer.SharedModel }, key);

        Assert.Equal(401, status);
        Assert.Contains($"API key {id} ('old-job') expired at {expired.UtcDateTime:yyyy-MM-dd'T'HH:mm}", body);
        Assert.Equal(16, grpc.Status);
        Assert.Contains("expired at", grpc.GrpcMessage);
    }

    [Fact]
    public async Task AWrongSecret_ForARealId_ReadsAsAnUnknownKey_AndIsNotEchoed()
    {
        string real = secured.Keys["viewer"].Key;
        string forged = real[..^4] + (real[^4..] == "AAAA" ? "BBBB" : "AAAA");

        (int status, string body, _) = await secured.SendAsync(HttpMethod.Get, MetadataPath, forged);

        Assert.Equal(401, status);
        Assert.Contains($"unknown API key {secured.Keys["viewer"].Record.Id}", body);
        Assert.DoesNotContain(forged[20..], body);
    }

    [Theory]
    [InlineData("Authorization", "Bearer", "Bearer scheme but no token")]
    [InlineData("Authorization", "Basic dXNlcjpwYXNzd29yZA==", "scheme 'Basic' is not supported")]
    [InlineData("Authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "JWT authentication is not configured")]
    [InlineData("Authorization", "Bearer qk_short", "the API key is malformed")]
    [InlineData("X-API-Key", "not-a-key", "the API key is malformed")]
    [InlineData("X-API-Key", "qk_ZZZZZZZZZZZZZZZZ_0123456789012345678901234567890123456789012", "the API key is malformed")]
    public async Task MalformedCredentials_Get401_SayingWhatIsWrong(string header, string value, string expected)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, MetadataPath);
        request.Headers.TryAddWithoutValidation(header, value);
        using HttpResponseMessage response = await secured.Server.Client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        GrpcResult grpc = await secured.Grpc.CallAsync("ServerMetadata", GrpcTestClient.Frame(new ServerMetadataRequest()),
            new Dictionary<string, string> { [header.ToLowerInvariant()] = value });

        Assert.Equal(401, (int)response.StatusCode);
        Assert.Contains(expected, body);
        Assert.Equal(16, grpc.Status);
        Assert.Contains(expected, grpc.GrpcMessage);
    }

    [Fact]
    public async Task TwoCredentials_AreRefused()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, MetadataPath);
        request.Headers.TryAddWithoutValidation("X-API-Key", secured.Keys["viewer"].Key);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + secured.Keys["admin"].Key);
        using HttpResponseMessage response = await secured.Server.Client.SendAsync(request);

        Assert.Equal(401, (int)response.StatusCode);
        Assert.Contains("send one credential", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Failures_AreAudited_WithoutTheSecret()
    {
        string forged = secured.Keys["predictor"].Key[..^4] + "AAAA";
        if (forged == secured.Keys["predictor"].Key)
        {
            forged = forged[..^4] + "BBBB";
        }

        await secured.SendAsync(HttpMethod.Get, "/v2/models/stats", forged);

        Assert.Contains(secured.Audit.Events, e => e is { Action: "auth.failed", Outcome: "failure", Resource: "GET /v2/models/stats" }
            && e.Details!.Contains("unknown API key", StringComparison.Ordinal));
        Assert.DoesNotContain(secured.Audit.Events, e => (e.Details ?? "").Contains(forged[20..], StringComparison.Ordinal));
    }
}
