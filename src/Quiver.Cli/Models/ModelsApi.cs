using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary>The models admin API (<c>/v2/admin/models/...</c>), one method per endpoint.</summary>
public static class ModelsApi
{
    /// <summary><c>GET /v2/admin/models</c>.</summary>
    public static Task<AdminReply<ModelList>> ListModelsAsync(this AdminClient client, CancellationToken cancellationToken) =>
        client.GetAsync<ModelList>("v2/admin/models", cancellationToken);

    /// <summary><c>GET /v2/admin/models/{name}</c>: the model with its replicas and alias history.</summary>
    public static Task<AdminReply<ModelRecord>> GetModelAsync(this AdminClient client, string name, CancellationToken cancellationToken) =>
        client.GetAsync<ModelRecord>(ModelPath(name), cancellationToken);

    /// <summary><c>GET /v2/admin/models/{name}/versions/{version}</c>.</summary>
    public static Task<AdminReply<VersionRecord>> GetVersionAsync(this AdminClient client, string name, int version, CancellationToken cancellationToken) =>
        client.GetAsync<VersionRecord>(VersionPath(name, version), cancellationToken);

    /// <summary><c>GET /v2/admin/models/{name}/history</c>: alias changes, newest first.</summary>
    public static Task<AdminReply<HistoryRecord>> GetHistoryAsync(this AdminClient client, string name, CancellationToken cancellationToken) =>
        client.GetAsync<HistoryRecord>(ModelPath(name) + "/history", cancellationToken);

    /// <summary><c>POST /v2/admin/models/{name}/versions</c> with the artifact streamed from disk as the body.</summary>
    public static async Task<AdminReply<PushRecord>> PushAsync(this AdminClient client, PushRequest push, CancellationToken cancellationToken)
    {
        FileStream file = OpenArtifact(push.FilePath);
        await using (file)
        {
            using StreamContent content = ArtifactContent(file);
            using var request = new HttpRequestMessage(HttpMethod.Post, client.Address(ModelPath(push.Model) + "/versions?" + push.QueryString()))
            {
                Content = content,
            };
            if (push.OptimizationReport is { } report)
            {
                request.Headers.Add(PushRequest.ReportHeader, Convert.ToBase64String(Encoding.UTF8.GetBytes(report)));
            }

            return await client.SendAsync<PushRecord>(request, timeout: null, cancellationToken);
        }
    }

    /// <summary><c>PUT /v2/admin/models/{name}/aliases/{alias}</c>.</summary>
    public static Task<AdminReply<AliasRecord>> SetAliasAsync(this AdminClient client, string name, string alias, int version, CancellationToken cancellationToken) =>
        client.SendAsActorAsync<AliasRecord>(HttpMethod.Put, AliasPath(name, alias), new JsonObject { ["version"] = version }, cancellationToken);

    /// <summary><c>DELETE /v2/admin/models/{name}/aliases/{alias}</c>.</summary>
    public static Task<AdminReply<AliasRecord>> RemoveAliasAsync(this AdminClient client, string name, string alias, CancellationToken cancellationToken) =>
        client.SendAsActorAsync<AliasRecord>(HttpMethod.Delete, AliasPath(name, alias), body: null, cancellationToken);

    /// <summary><c>POST /v2/admin/models/{name}/promote</c>: moves <c>production</c> to the version.</summary>
    public static Task<AdminReply<AliasRecord>> PromoteAsync(this AdminClient client, string name, int version, CancellationToken cancellationToken) =>
        client.SendAsActorAsync<AliasRecord>(HttpMethod.Post, ModelPath(name) + "/promote", new JsonObject { ["version"] = version }, cancellationToken);

    /// <summary><c>POST /v2/admin/models/{name}/rollback</c>: moves the alias back to its previous version.</summary>
    public static Task<AdminReply<AliasRecord>> RollbackAsync(this AdminClient client, string name, string alias, CancellationToken cancellationToken) =>
        client.SendAsActorAsync<AliasRecord>(HttpMethod.Post, ModelPath(name) + "/rollback", new JsonObject { ["alias"] = alias }, cancellationToken);

    /// <summary><c>POST /v2/admin/models/{name}/versions/{version}/retire</c>.</summary>
    public static Task<AdminReply<VersionRecord>> RetireAsync(this AdminClient client, string name, int version, string? reason, CancellationToken cancellationToken)
    {
        var body = new JsonObject();
        if (reason is not null)
        {
            body["reason"] = reason;
        }

        return client.SendAsActorAsync<VersionRecord>(HttpMethod.Post, VersionPath(name, version) + "/retire", body, cancellationToken);
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

    private static FileStream OpenArtifact(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"FILE '{path}' cannot be read: {e.Message}");
        }
    }

    private static string ModelPath(string name) => "v2/admin/models/" + Uri.EscapeDataString(name);

    private static string VersionPath(string name, int version) =>
        ModelPath(name) + "/versions/" + version.ToString(CultureInfo.InvariantCulture);

    private static string AliasPath(string name, string alias) => ModelPath(name) + "/aliases/" + Uri.EscapeDataString(alias);
}
