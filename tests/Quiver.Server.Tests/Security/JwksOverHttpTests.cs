using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.IdentityModel.Tokens;
using Quiver.Core.Security;
using Quiver.Server.Security;
using Quiver.Server.Tests.Dashboard;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// The JWKS fetched over HTTP from a real Kestrel on loopback standing in for the identity provider's jwks_uri:
/// a rotated key is picked up, and the cached keys keep working while the identity provider is down.
/// </summary>
public sealed class JwksOverHttpTests : IAsyncLifetime, IDisposable
{
    private readonly TestSigningKeys _idp = new();
    private readonly ManualClock _clock = new();
    private RsaSecurityKey _first = null!;
    private WebApplication _jwksServer = null!;
    private volatile string _jwks = "";
    private int _requests;

    private Uri JwksUrl { get; set; } = null!;

    public async Task InitializeAsync()
    {
        _first = _idp.AddRsa("kid-1");
        _jwks = _idp.Jwks();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _jwksServer = builder.Build();
        _jwksServer.MapGet("/realms/quiver/protocol/openid-connect/certs", () =>
        {
            Interlocked.Increment(ref _requests);
            return Results.Text(_jwks, "application/json");
        });
        await _jwksServer.StartAsync();
        string address = _jwksServer.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        JwksUrl = new Uri(new Uri(address), "/realms/quiver/protocol/openid-connect/certs");
    }

    public async Task DisposeAsync() => await _jwksServer.DisposeAsync();

    public void Dispose() => _idp.Dispose();

    private JwtAuthenticator Create()
    {
        var options = new JwtOptions { Jwks = JwksUrl.ToString(), Issuer = TestSigningKeys.Issuer, Audience = TestSigningKeys.Audience };
        var errors = new List<string>();
        options.Validate(errors);
        Assert.Empty(errors);
        return new JwtAuthenticator(options, _clock, NullLogger.Instance);
    }

    private string Token(SecurityKey key) =>
        TestSigningKeys.Token(key, _clock.GetUtcNow().AddMinutes(-1), _clock.GetUtcNow().AddMinutes(30),
            new Dictionary<string, object> { ["roles"] = new[] { "viewer" } });

    [Fact]
    public async Task RotatedKey_NewKid_IsFetchedFromTheUrl()
    {
        using JwtAuthenticator authenticator = Create();
        Assert.Null(await authenticator.LoadKeysAsync());
        Assert.Equal("alice", (await authenticator.AuthenticateAsync(Token(_first), CancellationToken.None)).Name);

        // The identity provider publishes a second key and starts signing with it.
        RsaSecurityKey second = _idp.AddRsa("kid-2");
        _jwks = _idp.Jwks();
        _clock.Advance(TimeSpan.FromMinutes(1));
        Principal principal = await authenticator.AuthenticateAsync(Token(second), CancellationToken.None);

        Assert.Equal([Role.Viewer], principal.Roles);
        Assert.Equal(2, Volatile.Read(ref _requests));
        // The old key is still published and still accepted, from the cache.
        await authenticator.AuthenticateAsync(Token(_first), CancellationToken.None);
        Assert.Equal(2, Volatile.Read(ref _requests));
    }

    [Fact]
    public async Task UnknownKids_InsideTheRateLimit_CauseOneFetch()
    {
        using JwtAuthenticator authenticator = Create();
        Assert.Null(await authenticator.LoadKeysAsync());
        using var forger = new TestSigningKeys();
        _clock.Advance(TimeSpan.FromMinutes(1));

        for (int i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<AuthenticationFailedException>(
                () => authenticator.AuthenticateAsync(Token(forger.AddRsa($"forged-{i}")), CancellationToken.None));
        }

        Assert.Equal(2, Volatile.Read(ref _requests));
    }

    [Fact]
    public async Task IdentityProviderDown_CachedKeysKeepWorking()
    {
        using JwtAuthenticator authenticator = Create();
        Assert.Null(await authenticator.LoadKeysAsync());
        await _jwksServer.StopAsync();
        // Past the maximum age the keys are re-read; the read fails and the cached ones stay.
        _clock.Advance(TimeSpan.FromHours(2));

        Principal principal = await authenticator.AuthenticateAsync(Token(_first), CancellationToken.None);

        Assert.Equal("alice", principal.Name);
        Assert.Equal(2, authenticator.JwksReads);
    }

    [Fact]
    public async Task IdentityProviderDownFromTheStart_RefusesSayingKeysCouldNotBeLoaded()
    {
        await _jwksServer.StopAsync();
        using JwtAuthenticator authenticator = Create();

        string? error = await authenticator.LoadKeysAsync();
        var refused = await Assert.ThrowsAsync<AuthenticationFailedException>(
            () => authenticator.AuthenticateAsync(Token(_first), CancellationToken.None));

        Assert.Contains(JwksUrl.ToString(), error);
        Assert.Contains("signing keys (JWKS) could not be loaded", refused.Message);
    }
}
