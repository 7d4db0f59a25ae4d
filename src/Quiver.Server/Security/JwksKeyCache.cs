using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace Quiver.Server.Security;

/// <summary>
/// The identity provider's public signing keys, read from a JWKS file or URL and kept in memory. An unknown <c>kid</c>
/// triggers one refresh (at most one per <see cref="JwtOptions.JwksMinimumRefreshInterval"/>), so a rotated key is picked
/// up; keys older than <see cref="JwtOptions.JwksMaximumAge"/> are refreshed too. A failed refresh keeps the keys it had.
/// </summary>
internal sealed partial class JwksKeyCache : IDisposable
{
    private readonly string _source;
    private readonly bool _isUrl;
    private readonly HttpClient? _http;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _minimumRefreshInterval;
    private readonly TimeSpan _maximumAge;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private volatile KeySet? _keys;
    private DateTimeOffset? _lastAttempt;

    public JwksKeyCache(JwtOptions options, TimeProvider clock, ILogger logger, HttpMessageHandler? handler = null)
    {
        _source = options.Jwks!;
        _isUrl = options.JwksIsUrl;
        // Ten seconds: an identity provider slower than that is treated as down and the cached keys stay in use.
        _http = _isUrl ? new HttpClient(handler ?? new SocketsHttpHandler(), disposeHandler: handler is null) { Timeout = TimeSpan.FromSeconds(10) } : null;
        _clock = clock;
        _minimumRefreshInterval = options.JwksMinimumRefreshInterval;
        _maximumAge = options.JwksMaximumAge;
        _logger = logger;
    }

    /// <summary>How many times the JWKS was read (successfully or not); for tests of the rate limit.</summary>
    public int Reads { get; private set; }

    /// <summary>
    /// The keys that may have signed a token with <paramref name="kid"/> (every key when it has none), refreshing
    /// first when the kid is unknown or the keys are old. Throws <see cref="Core.Security.AuthenticationFailedException"/>
    /// when no key fits.
    /// </summary>
    public async ValueTask<IReadOnlyList<SecurityKey>> FindAsync(string? kid, CancellationToken cancellationToken)
    {
        KeySet? keys = _keys;
        if (keys is null || _clock.GetUtcNow() - keys.LoadedAt >= _maximumAge || (kid is not null && !keys.ById.ContainsKey(kid)))
        {
            await RefreshAsync(force: false, cancellationToken);
            keys = _keys;
        }

        if (keys is null)
        {
            throw new Core.Security.AuthenticationFailedException(
                "this server cannot verify tokens right now: its identity provider's signing keys (JWKS) could not be loaded; try again later.");
        }

        if (kid is null)
        {
            return keys.All;
        }

        return keys.ById.TryGetValue(kid, out SecurityKey? key)
            ? [key]
            : throw new Core.Security.AuthenticationFailedException(
                $"the token was signed with key id '{CallerText.Shown(kid)}', which is not among the identity provider's current signing keys " +
                $"({string.Join(", ", keys.ById.Keys)}); get a fresh token.");
    }

    /// <summary>
    /// Reads the JWKS now unless it was read less than the minimum interval ago (<paramref name="force"/> skips that
    /// limit, for the read at start). Returns the error when the read failed; the previous keys stay in use.
    /// </summary>
    public async Task<string?> RefreshAsync(bool force, CancellationToken cancellationToken)
    {
        KeySet? before = _keys;
        await _refreshing.WaitAsync(cancellationToken);
        try
        {
            DateTimeOffset now = _clock.GetUtcNow();
            // Another caller refreshed while this one waited: its keys are as fresh as a second read would give.
            if (!force && !ReferenceEquals(before, _keys))
            {
                return null;
            }

            if (!force && _lastAttempt is { } last && now - last < _minimumRefreshInterval)
            {
                Log.RefreshRateLimited(_logger, _source, (last + _minimumRefreshInterval - now).TotalSeconds);
                return null;
            }

            _lastAttempt = now;
            Reads++;
            try
            {
                string json = _isUrl
                    ? await _http!.GetStringAsync(_source, cancellationToken)
                    : await File.ReadAllTextAsync(_source, cancellationToken);
                KeySet keys = Parse(json, now);
                _keys = keys;
                Log.Loaded(_logger, _source, keys.All.Count, string.Join(", ", keys.ById.Keys));
                return null;
            }
            catch (Exception e) when ((e is HttpRequestException or TaskCanceledException or IOException or UnauthorizedAccessException
                or ArgumentException or FormatException or System.Text.Json.JsonException) && !cancellationToken.IsCancellationRequested)
            {
                // The caller did not cancel, so a cancellation here is HttpClient's timeout.
                string error = e is TaskCanceledException ? "timed out" : e.Message;
                Log.RefreshFailed(_logger, _source, error, _keys?.All.Count ?? 0);
                return $"cannot read the JWKS {_source}: {error}";
            }
        }
        finally
        {
            _refreshing.Release();
        }
    }

    // Only asymmetric signing keys count: a symmetric ("oct") key in a JWKS would be a shared secret published to all.
    private static KeySet Parse(string json, DateTimeOffset now)
    {
        JsonWebKeySet set;
        try
        {
            set = new JsonWebKeySet(json);
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"not a JSON Web Key Set ({e.Message})", e);
        }

        var byId = new Dictionary<string, SecurityKey>(StringComparer.Ordinal);
        var all = new List<SecurityKey>();
        foreach (JsonWebKey key in set.Keys)
        {
            bool asymmetric = key.Kty is JsonWebAlgorithmsKeyTypes.RSA or JsonWebAlgorithmsKeyTypes.EllipticCurve;
            bool forSigning = string.IsNullOrEmpty(key.Use) || key.Use == JsonWebKeyUseNames.Sig;
            if (!asymmetric || !forSigning)
            {
                continue;
            }

            all.Add(key);
            if (!string.IsNullOrEmpty(key.Kid))
            {
                byId[key.Kid] = key;
            }
        }

        if (all.Count == 0)
        {
            throw new FormatException("it holds no RSA or EC signing key");
        }

        return new KeySet(byId, all, now);
    }

    public void Dispose()
    {
        _http?.Dispose();
        _refreshing.Dispose();
    }

    private sealed record KeySet(IReadOnlyDictionary<string, SecurityKey> ById, IReadOnlyList<SecurityKey> All, DateTimeOffset LoadedAt);

    private static partial class Log
    {
        [LoggerMessage(EventId = 620, Level = LogLevel.Information, Message = "JWKS {Source} loaded: {Count} signing keys ({KeyIds})")]
        public static partial void Loaded(ILogger logger, string source, int count, string keyIds);

        [LoggerMessage(EventId = 621, Level = LogLevel.Warning, Message = "JWKS {Source} could not be read ({Error}); keeping the {Count} signing keys already loaded")]
        public static partial void RefreshFailed(ILogger logger, string source, string error, int count);

        [LoggerMessage(EventId = 622, Level = LogLevel.Debug, Message = "JWKS {Source} not re-read for an unknown key id: last read too recent (next allowed in {Seconds:F0} s)")]
        public static partial void RefreshRateLimited(ILogger logger, string source, double seconds);
    }
}
