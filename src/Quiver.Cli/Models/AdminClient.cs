using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Quiver.Cli.Models;

/// <summary>The admin API of a running server (<c>/v2/admin/...</c>), one method per endpoint.</summary>
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

    /// <summary>A client for the server at <paramref name="server"/> (a base address ending in '/'), acting as <paramref name="actor"/>.</summary>
    public AdminClient(Uri server, string actor)
    {
        Server = server;
        _actor = actor;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) }) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The server's base address.</summary>
    public Uri Server { get; }

    /// <summary><c>GET /v2/admin/models</c>.</summary>
    public Task<AdminReply<ModelList>> ListModelsAsync(CancellationToken cancellationToken) =>
        SendAsync<ModelList>(HttpMethod.Get, "v2/admin/models", cancellationToken);

    /// <summary><c>GET /v2/admin/models/{name}</c>: the model with its replicas and alias history.</summary>
    public Task<AdminReply<ModelRecord>> GetModelAsync(string name, CancellationToken cancellationToken) =>
        SendAsync<ModelRecord>(HttpMethod.Get, ModelPath(name), cancellationToken);

    /// <summary><c>GET /v2/admin/models/{name}/versions/{version}</c>.</summary>
    public Task<AdminReply<VersionRecord>> GetVersionAsync(string name, int version, CancellationToken cancellationToken) =>
        SendAsync<VersionRecord>(HttpMethod.Get, VersionPath(name, version), cancellationToken);

    /// <summary><c>GET /v2/admin/models/{name}/history</c>: alias changes, newest first.</summary>
    public Task<AdminReply<HistoryRecord>> GetHistoryAsync(string name, CancellationToken cancellationToken) =>
        SendAsync<HistoryRecord>(HttpMethod.Get, ModelPath(name) + "/history", cancellationToken);

    /// <summary><c>POST /v2/admin/models/{name}/versions</c> with the artifact streamed from disk as the body.</summary>
    public async Task<AdminReply<PushRecord>> PushAsync(PushRequest push, CancellationToken cancellationToken)
    {
        FileStream file = OpenArtifact(push.FilePath);
        await using (file)
        {
            using StreamContent content = ArtifactContent(file);
            using var request = new HttpRequestMessage(HttpMethod.Post, Address(ModelPath(push.Model) + "/versions?" + push.QueryString()))
            {
                Content = content,
            };
            return await SendAsync<PushRecord>(request, timeout: null, cancellationToken);
        }
    }

    /// <summary><c>PUT /v2/admin/models/{name}/aliases/{alias}</c>.</summary>
    public Task<AdminReply<AliasRecord>> SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken) =>
        SendAsActorAsync<AliasRecord>(HttpMethod.Put, AliasPath(name, alias), new JsonObject { ["version"] = version }, cancellationToken);

    /// <summary><c>DELETE /v2/admin/models/{name}/aliases/{alias}</c>.</summary>
    public Task<AdminReply<AliasRecord>> RemoveAliasAsync(string name, string alias, CancellationToken cancellationToken) =>
        SendAsActorAsync<AliasRecord>(HttpMethod.Delete, AliasPath(name, alias), body: null, cancellationToken);

    /// <summary><c>POST /v2/admin/models/{name}/promote</c>: moves <c>production</c> to the version.</summary>
    public Task<AdminReply<AliasRecord>> PromoteAsync(string name, int version, CancellationToken cancellationToken) =>
        SendAsActorAsync<AliasRecord>(HttpMethod.Post, ModelPath(name) + "/promote", new JsonObject { ["version"] = version }, cancellationToken);

    /// <summary><c>POST /v2/admin/models/{name}/rollback</c>: moves the alias back to its previous version.</summary>
    public Task<AdminReply<AliasRecord>> RollbackAsync(string name, string alias, CancellationToken cancellationToken) =>
        SendAsActorAsync<AliasRecord>(HttpMethod.Post, ModelPath(name) + "/rollback", new JsonObject { ["alias"] = alias }, cancellationToken);

    /// <summary><c>POST /v2/admin/models/{name}/versions/{version}/retire</c>.</summary>
    public Task<AdminReply<VersionRecord>> RetireAsync(string name, int version, string? reason, CancellationToken cancellationToken)
    {
        var body = new JsonObject();
        if (reason is not null)
        {
            body["reason"] = reason;
        }

        return SendAsActorAsync<VersionRecord>(HttpMethod.Post, VersionPath(name, version) + "/retire", body, cancellationToken);
    }

    /// <summary>
    /// The push body: a StreamContent over the file, so the model is read from disk as it is sent and a 2 GB model
    /// costs one 80 KB buffer, not 2 GB of memory. Content-Length is the file's length, so the server can refuse an
    /// oversized upload (413) before reading it.
    /// </summary>
    public static StreamContent ArtifactContent(FileStream file)
    {
        var content = new StreamContent(file, bufferSize: 81_920);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.ContentLength = file.Length - file.Position;
        return content;
    }

    public void Dispose() => _http.Dispose();

    private static FileStream OpenArtifact(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelsUsageException($"FILE '{path}' cannot be read: {e.Message}");
        }
    }

    private static string ModelPath(string name) => "v2/admin/models/" + Uri.EscapeDataString(name);

    private static string VersionPath(string name, int version) =>
        ModelPath(name) + "/versions/" + version.ToString(CultureInfo.InvariantCulture);

    private static string AliasPath(string name, string alias) => ModelPath(name) + "/aliases/" + Uri.EscapeDataString(alias);

    private Uri Address(string relative) => new(Server, relative);

    private async Task<AdminReply<T>> SendAsync<T>(HttpMethod method, string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, Address(path));
        return await SendAsync<T>(request, CallTimeout, cancellationToken);
    }

    private async Task<AdminReply<T>> SendAsActorAsync<T>(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, Address(path));
        request.Headers.Add(CliActor.Header, _actor);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, JsonMediaType);
        }

        return await SendAsync<T>(request, CallTimeout, cancellationToken);
    }

    private async Task<AdminReply<T>> SendAsync<T>(HttpRequestMessage request, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(JsonMediaType));
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } limit)
        {
            deadline.CancelAfter(limit);
        }

        int status;
        string body;
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token);
            status = (int)response.StatusCode;
            body = await response.Content.ReadAsStringAsync(deadline.Token);
            if (!response.IsSuccessStatusCode)
            {
                throw new AdminApiException(status, ErrorMessage(response, body));
            }
        }
        catch (HttpRequestException e)
        {
            throw ConnectionFailed(e);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout is not null)
        {
            throw new ServerConnectionException($"the server at {Server} did not answer within {timeout.Value.TotalSeconds:0} s.");
        }

        try
        {
            T? value = JsonSerializer.Deserialize<T>(body, AdminJson.Options);
            return new AdminReply<T>(value ?? throw new JsonException("the body is null"), body);
        }
        catch (JsonException e)
        {
            // Most likely --server points at something that is not a Quiver server.
            throw new AdminApiException(status, $"the server at {Server} answered HTTP {status} with a body that is not the admin API's JSON ({e.Message}): {Excerpt(body)}");
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
