using Quiver.Core.Registry;
using Quiver.Core.Security;

namespace Quiver.Core.Tests.Security;

/// <summary>API keys end to end in Core: created, stored as a hash in a real SQLite registry, authenticated, expired and revoked on a fake clock.</summary>
public sealed class ApiKeyTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_start = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);

    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-apikeys-").FullName;
    private readonly ManualClock _clock = new(s_start);
    private IModelRegistry _registry = null!;

    private ApiKeyManager Manager => new(_registry, _clock);

    private ApiKeyAuthenticator Authenticator => new(_registry, _clock);

    public async Task InitializeAsync() => _registry = await ModelRegistry.OpenAsync(Path.Combine(_folder, "registry.db"));

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public void Generate_GivesAParseableKey_With256BitsOfSecret_DifferentEachTime()
    {
        (string id, string secret, string key) = ApiKeySecret.Generate();
        (string otherId, _, string other) = ApiKeySecret.Generate();

        Assert.Matches("^qk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$", key);
        Assert.True(ApiKeySecret.TryParse(key, out string? parsedId, out string? parsedSecret));
        Assert.Equal((id, secret), (parsedId, parsedSecret));
        Assert.Equal(32, Convert.FromBase64String(secret.Replace('-', '+').Replace('_', '/') + "=").Length);
        Assert.NotEqual(id, otherId);
        Assert.NotEqual(key, other);
    }

    [Theory]
    [InlineData("")]
    [InlineData("qk_")]
    [InlineData("qk_0011223344556677")]
    [InlineData("qk_0011223344556677-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("qk_00112233445566ZZ_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("qk_0011223344556677_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("xk_0011223344556677_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void TryParse_RefusesWhatIsNotAQuiverKey(string text)
    {
        Assert.False(ApiKeySecret.TryParse(text, out _, out _));
    }

    [Fact]
    public async Task Create_StoresOnlyTheHash_AndTheKeyAuthenticatesAsItsPrincipal()
    {
        CreatedApiKey created = await Manager.CreateAsync("scorer", [Role.Predictor, Role.Viewer], "acme", s_start.AddDays(30));

        ApiKey stored = (await _registry.GetApiKeyAsync(created.Record.Id))!;
        Principal principal = await Authenticator.AuthenticateAsync(created.Key);

        Assert.StartsWith($"qk_{created.Record.Id}_", created.Key);
        Assert.DoesNotContain(created.Key[20..], stored.SecretSha256);
        Assert.Equal(ApiKeySecret.Hash(created.Key[20..]), stored.SecretSha256);
        Assert.Equal(("scorer", "acme", "api-key"), (principal.Name, principal.Tenant, principal.Method));
        Assert.True(principal.Has(Role.Predictor) && principal.Has(Role.Viewer) && !principal.Has(Role.Deployer));
        byte[] database = File.ReadAllBytes(Path.Combine(_folder, "registry.db"));
        Assert.DoesNotContain(created.Key[20..], System.Text.Encoding.Latin1.GetString(database));
    }

    [Fact]
    public async Task AnExpiredKey_IsRefused_FromItsExpiryOn_SayingWhen()
    {
        CreatedApiKey created = await Manager.CreateAsync("nightly", [Role.Viewer], null, ApiKeyManager.ParseExpiry("1d", s_start));
        _clock.Advance(TimeSpan.FromDays(1) - TimeSpan.FromSeconds(1));
        await Authenticator.AuthenticateAsync(created.Key);

        _clock.Advance(TimeSpan.FromSeconds(1));
        var e = await Assert.ThrowsAsync<AuthenticationFailedException>(() => Authenticator.AuthenticateAsync(created.Key));

        Assert.Equal($"API key {created.Record.Id} ('nightly') expired at 2026-12-02T09:00:00Z; create a new one with 'quiver keys create'.", e.Message);
    }

    [Fact]
    public async Task ARevokedKey_IsRefused_SayingWhen_AndAnUnknownOrForgedKey_SaysUnknown()
    {
        CreatedApiKey created = await Manager.CreateAsync("old", [Role.Viewer], null, null);
        _clock.Advance(TimeSpan.FromMinutes(5));
        await Manager.RevokeAsync(created.Record.Id);
        (_, _, string neverStored) = ApiKeySecret.Generate();
        string forged = created.Key[..20] + new string('A', 43);

        var revoked = await Assert.ThrowsAsync<AuthenticationFailedException>(() => Authenticator.AuthenticateAsync(created.Key));
        var unknown = await Assert.ThrowsAsync<AuthenticationFailedException>(() => Authenticator.AuthenticateAsync(neverStored));
        var wrongSecret = await Assert.ThrowsAsync<AuthenticationFailedException>(() => Authenticator.AuthenticateAsync(forged));

        Assert.Equal($"API key {created.Record.Id} ('old') was revoked at 2026-12-01T09:05:00Z.", revoked.Message);
        Assert.StartsWith("unknown API key", unknown.Message);
        Assert.Equal($"unknown API key {created.Record.Id}: no key with this id and secret exists.", wrongSecret.Message);
        Assert.DoesNotContain(neverStored[20..], unknown.Message);
    }

    [Fact]
    public async Task Create_RefusesAKeyWithoutNameOrRole_OrABadTenant_OrAPastExpiry()
    {
        Assert.Contains("--name", (await Assert.ThrowsAsync<ArgumentException>(() => Manager.CreateAsync(" ", [Role.Viewer], null, null))).Message);
        Assert.Contains("--role", (await Assert.ThrowsAsync<ArgumentException>(() => Manager.CreateAsync("x", [], null, null))).Message);
        Assert.Contains("not a valid name", (await Assert.ThrowsAsync<ArgumentException>(() => Manager.CreateAsync("x", [Role.Viewer], "a b", null))).Message);
        Assert.Contains("not in the future", (await Assert.ThrowsAsync<ArgumentException>(() => Manager.CreateAsync("x", [Role.Viewer], null, s_start))).Message);
        Assert.Empty(await Manager.ListAsync());
    }

    [Theory]
    [InlineData("30d", "2026-12-31T09:00:00Z")]
    [InlineData("12h", "2026-12-01T21:00:00Z")]
    [InlineData("90m", "2026-12-01T10:30:00Z")]
    [InlineData("2027-01-01", "2027-01-01T00:00:00Z")]
    [InlineData("2027-01-01T12:30:00Z", "2027-01-01T12:30:00Z")]
    public void ParseExpiry_ReadsDurationsAndUtcDates(string text, string expected)
    {
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), ApiKeyManager.ParseExpiry(text, s_start));
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("30x")]
    [InlineData("-1d")]
    [InlineData("0d")]
    public void ParseExpiry_RefusesAnythingElse_SayingWhatIsExpected(string text)
    {
        var e = Assert.Throws<FormatException>(() => ApiKeyManager.ParseExpiry(text, s_start));
        Assert.Contains("30d, 12h, 90m", e.Message);
    }

    [Fact]
    public void RoleNames_RoundTrip_AndRefuseUnknownNames()
    {
        Assert.Equal("viewer,predictor,admin", RoleNames.Join([Role.Admin, Role.Viewer, Role.Predictor]));
        Assert.Equal([Role.Viewer, Role.Admin], RoleNames.Split("admin, viewer").Order());
        Assert.Contains("unknown role 'root'", Assert.Throws<FormatException>(() => RoleNames.Split("viewer,root")).Message);
    }
}
