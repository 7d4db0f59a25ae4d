using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Quiver.Cli.Admin;

/// <summary>
/// The way to a running server's admin API (<c>/v2/admin/...</c>): sends a call, turns a refusal into
/// <see cref="AdminApiException"/> and no answer into <see cref="ServerConnectionException"/>. Each command group
/// adds its endpoints as extension methods (<c>Models/ModelsApi.cs</c>, <c>Rollouts/RolloutsApi.cs</c>).
/// </summary>
public sealed class AdminClient : IDisposable
{
    /// <summary>
    /// Every call but a push must answer within this time: the answers are small, so a call that takes longer is
    /// stuck. A push has no limit, since it streams the whole model; Ctrl+C stops it.
    /// </summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);

    private const string JsonMediaType = "application/json";

    private readonly HttpClient _http;
    private readonly string _actor;

    /// <summary>
    /// A client for the server at <paramref name="server"/> (a base address ending in '/'), acting as <paramref name="actor"/>,
    /// presenting <paramref name="apiKey"/> when given.
    /// </summary>
    public AdminClient(Uri server, string actor, string? apiKey = null)
    {
        Server = server;
        _actor = actor;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }) { Timeout = Timeout.InfiniteTimeSpan };
        ApiKeys.Apply(_http, apiKey);
    }

    /// <summary>The server's base address.</summary>
    public Uri Server { get; }

    /// <summary>The absolute address of a path relative to the server's base address (no leading '/').</summary>
    public Uri Address(string relative) => new(Server, relative);

    /// <summary><c>GET path</c>: reads something, as nobody in particular.</summary>
    public async Task<AdminReply<T>> GetAsync<T>(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Address(path));
        return Parse<T>(await SendAsync(request, CallTimeout, cancellationToken));
    }

    /// <summary>A change, sent with <c>X-Quiver-Actor</c> so the server records who made it; <paramref name="body"/> as JSON if given.</summary>
    public async Task<AdminReply<T>> SendAsActorAsync<T>(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        using HttpRequestMessage request = ActorRequest(method, path, body);
        return Parse<T>(await SendAsync(request, CallTimeout, cancellationToken));
    }

    /// <summary>A change whose successful answer has no body (e.g. a DELETE answered 200 with nothing).</summary>
    public async Task SendAsActorAsync(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        using HttpRequestMessage request = ActorRequest(method, path, body);
        await SendAsync(request, CallTimeout, cancellationToken);
    }

    /// <summary>Sends a prepared request, within <paramref name="timeout"/> if given, and parses the answer as <typeparamref name="T"/>.</summary>
    public async Task<AdminReply<T>> SendAsync<T>(HttpRequestMessage request, TimeSpan? timeout, CancellationToken cancellationToken) =>
        Parse<T>(await SendAsync(request, timeout, cancellationToken));

    public void Dispose() => _http.Dispose();

    private HttpRequestMessage ActorRequest(HttpMethod method, string path, JsonObject? body)
    {
        var request = new HttpRequestMessage(method, Address(path));
        request.Headers.Add(CliActor.Header, _actor);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, JsonMediaType);
        }

        return request;
    }

    // The status and body of a successful answer; a refusal throws with the server's message.
    private async Task<(int Status, string Body)> SendAsync(HttpRequestMessage request, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(JsonMediaType));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } limit)
        {
            deadline.CancelAfter(limit);
        }

        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token);
            int status = (int)response.StatusCode;
            string body = await response.Content.ReadAsStringAsync(deadline.Token);
            return response.IsSuccessStatusCode ? (status, body) : throw new AdminApiException(status, ErrorMessage(response, body));
        }
        catch (HttpRequestException e)
        {
            throw ConnectionFailed(e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout is not null)
        {
            throw new ServerConnectionException($"the server at {Server} did not answer within {timeout.Value.TotalSeconds:0} s.");
        }
    }

    private AdminReply<T> Parse<T>((int Status, string Body) answer)
    {
        try
        {
            T? value = JsonSerializer.Deserialize<T>(answer.Body, AdminJson.Options);
            return new AdminReply<T>(value ?? throw new JsonException("the body is null"), answer.Body);
        }
        catch (JsonException e)
        {
            // Most likely --server points at something that is not a Quiver server.
            throw new AdminApiException(answer.Status,
                $"the server at {Server} answered HTTP {answer.Status} with a body that is not the admin API's JSON ({e.Message}): {Excerpt(answer.Body)}");
        }
    }

    private ServerConnectionException ConnectionFailed(HttpRequestException e)
    {
        string? reason = e.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "unknown host",
            HttpRequestError.ConnectionError when e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
            HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError => e.InnerException?.Message ?? e.Message,
            _ => null,
        };
        return reason is null
            ? new ServerConnectionException($"the connection to the server at {Server} failed: {e.Message}", e)
            : new ServerConnectionException(
                $"cannot reach the Quiver server at {Server} ({reason}). Is 'quiver serve' running there? Point --server or {ServerAddress.EnvironmentVariable} at it.", e);
    }

    private static string ErrorMessage(HttpResponseMessage response, string body)
    {
        try
        {
            if (JsonSerializer.Deserialize<ErrorRecord>(body, AdminJson.Options)?.Error is { Length: > 0 } message)
            {
                return message;
            }
        }
        catch (JsonException)
        {
            // Not the admin API's error body: a proxy, or not a Quiver server; say what came back instead.
        }

        string status = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd();
        return body.Length == 0 ? status : $"{status}: {Excerpt(body)}";
    }

    private static string Excerpt(string body)
    {
        string line = body.ReplaceLineEndings(" ").Trim();
        return line.Length <= 200 ? line : line[..200] + "…";
    }
}
