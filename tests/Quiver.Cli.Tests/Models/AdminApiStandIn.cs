using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Quiver.Cli.Tests.Models;

/// <summary>One request as the stand-in received it.</summary>
public sealed record RecordedRequest(
    string Method,
    string Path,
    string RawTarget,
    IReadOnlyDictionary<string, string> Query,
    IReadOnlyDictionary<string, string> Headers,
    byte[] Body,
    long BodyLength,
    string BodySha256)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public JsonNode? BodyJson => Body.Length == 0 ? null : JsonNode.Parse(Body);

    public string? Header(string name) => Headers.TryGetValue(name, out string? value) ? value : null;
}

/// <summary>
/// A stand-in for the server's admin API (<c>/v2/admin/...</c>, issue 4) until the real one lands in main: a real
/// Kestrel on a free loopback port implementing the API contract over a small in-memory registry, and recording every
/// request so tests can check exactly what the CLI sent. It does not read ONNX (any non-empty body is a valid model,
/// with a fixed signature); tests that need the real server's refusals queue them with <see cref="RespondOnce"/>.
/// </summary>
public sealed class AdminApiStandIn : IAsyncDisposable
{
    /// <summary>The bytes of iris version 2 in the seeded registry; pushing them again finds that version.</summary>
    public static readonly byte[] IrisV2Bytes = Encoding.ASCII.GetBytes("stand-in artifact of iris version 2");

    /// <summary>Request bodies up to this size are kept in <see cref="RecordedRequest.Body"/>; larger ones are only hashed.</summary>
    public const int KeptBodyBytes = 16 * 1024 * 1024;

    private readonly WebApplication _app;
    private readonly List<RecordedRequest> _requests = [];
    private readonly Queue<(int Status, string Body)> _canned = new();
    private readonly Dictionary<string, Model> _models = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private int _clock;

    private AdminApiStandIn(WebApplication app)
    {
        _app = app;
        Seed();
    }

    /// <summary>The base address, e.g. http://127.0.0.1:41234.</summary>
    public string Url { get; private set; } = "";

    /// <summary>Every request received so far, in order.</summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return _requests.ToList();
            }
        }
    }

    /// <summary>
    /// Bodies declared larger than this are refused with 413 before a byte of them is read, as Kestrel refuses a body
    /// over its limit; null (the default) accepts any size.
    /// </summary>
    public long? MaxBodyBytes { get; set; }

    /// <summary>The only request received; fails the test if there were none or several.</summary>
    public RecordedRequest SingleRequest => Assert.Single(Requests);

    public static async Task<AdminApiStandIn> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Limits.MaxRequestBodySize = null;
        });
        WebApplication app = builder.Build();
        var standIn = new AdminApiStandIn(app);
        app.Run(standIn.HandleAsync);
        await app.StartAsync();
        standIn.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return standIn;
    }

    /// <summary>Answers the next request (after recording it) with this status and body, as the real server would refuse it.</summary>
    public void RespondOnce(int status, string body)
    {
        lock (_lock)
        {
            _canned.Enqueue((status, body));
        }
    }

    /// <summary>Answers the next request with the admin API's error body <c>{"error": message}</c>.</summary>
    public void RespondOnceWithError(int status, string message) =>
        RespondOnce(status, new JsonObject { ["error"] = message }.ToJsonString());

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task HandleAsync(HttpContext context)
    {
        HttpRequest request = context.Request;
        if (request.ContentLength > MaxBodyBytes)
        {
            context.Response.StatusCode = 413;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(new JsonObject { ["error"] = $"the body is larger than the limit of {MaxBodyBytes} bytes" }.ToJsonString());
            return;
        }

        (byte[] body, long length, string sha256) = await ReadBodyAsync(request.Body, keep: request.ContentLength is null or <= KeptBodyBytes);
        var recorded = new RecordedRequest(
            request.Method,
            request.Path.Value ?? "",
            context.Features.Get<IHttpRequestFeature>()!.RawTarget,
            request.Query.ToDictionary(q => q.Key, q => q.Value.ToString()),
            request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body,
            length,
            sha256);

        (int Status, string Body) answer;
        lock (_lock)
        {
            _requests.Add(recorded);
            answer = _canned.Count > 0 ? _canned.Dequeue() : Route(recorded);
        }

        context.Response.StatusCode = answer.Status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer.Body);
    }

    // Bodies up to KeptBodyBytes are kept for the tests to compare; larger ones only hashed, so a test can push
    // a file of hundreds of MB and measure the CLI's allocations without the stand-in's own copy in the way.
    private static async Task<(byte[] Body, long Length, string Sha256)> ReadBodyAsync(Stream body, bool keep)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var kept = new MemoryStream();
        byte[] buffer = new byte[81_920];
        long length = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            if (keep && length + read <= KeptBodyBytes)
            {
                kept.Write(buffer, 0, read);
            }

            length += read;
        }

        return (keep && length <= KeptBodyBytes ? kept.ToArray() : [], length, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    private (int, string) Route(RecordedRequest request)
    {
        string[] parts = request.Path.Trim('/').Split('/');
        if (parts.Length < 3 || parts[0] != "v2" || parts[1] != "admin" || parts[2] != "models")
        {
            return Error(404, $"no route {request.Method} {request.Path}");
        }

        if (parts.Length == 3)
        {
            return request.Method == "GET" ? Ok(new JsonObject { ["models"] = new JsonArray([.. _models.Values.Select(ModelJson)]) }) : NoRoute(request);
        }

        string name = parts[3];
        (string, int, string?) route = (request.Method, parts.Length, parts.Length > 4 ? parts[4] : null);
        if (route == ("POST", 5, "versions"))
        {
            return Push(name, request);
        }

        if (!_models.TryGetValue(name, out Model? model))
        {
            return Error(404, $"model '{name}' not found");
        }

        return route switch
        {
            ("GET", 4, _) => Ok(DetailsJson(model)),
            ("GET", 5, "history") => Ok(new JsonObject { ["changes"] = new JsonArray([.. model.History.Select(ChangeJson)]) }),
            ("GET", 6, "versions") => WithVersion(model, parts[5], v => Ok(VersionJson(model, v))),
            ("POST", 7, "versions") when parts[6] == "retire" => WithVersion(model, parts[5], v => Retire(model, v, request)),
            ("PUT", 6, "aliases") => MoveAlias(model, parts[5], (int?)request.BodyJson?["version"], request, rollback: false),
            ("DELETE", 6, "aliases") => RemoveAlias(model, parts[5], request),
            ("POST", 5, "promote") => MoveAlias(model, "production", (int?)request.BodyJson?["version"], request, rollback: false),
            ("POST", 5, "rollback") => Rollback(model, (string?)request.BodyJson?["alias"] ?? "production", request),
            _ => NoRoute(request),
        };
    }

    private (int, string) Push(string name, RecordedRequest request)
    {
        if (request.BodyLength == 0)
        {
            return Error(400, "the artifact is empty: expected an ONNX model");
        }

        string sha = request.BodySha256;
        string? config = request.Query.GetValueOrDefault("config");
        if (!_models.TryGetValue(name, out Model? model))
        {
            model = new Model(name, request.Query.GetValueOrDefault("description"), Now());
            _models.Add(name, model);
        }

        bool alreadyStored = _models.Values.SelectMany(m => m.Versions).Any(v => v.Sha256 == sha);
        Version? existing = model.Versions.FirstOrDefault(v => v.Sha256 == sha && v.Config == config);
        Version version = existing ?? new Version(model.Versions.Count == 0 ? 1 : model.Versions.Max(v => v.Number) + 1, sha, request.BodyLength)
        {
            State = "registered",
            Creator = request.Query.GetValueOrDefault("creator"),
            CreatedAt = Now(),
            Description = request.Query.GetValueOrDefault("description"),
            Tags = request.Query.TryGetValue("tags", out string? tags) ? tags.Split(',') : [],
            SourceUri = request.Query.GetValueOrDefault("source_uri"),
            TrainingRunId = request.Query.GetValueOrDefault("training_run_id"),
            Config = config,
        };
        string? alias = request.Query.GetValueOrDefault("alias");
        if (existing is null)
        {
            model.Versions.Add(version);
            if (alias is not null)
            {
                Move(model, alias, version.Number, request.Query.GetValueOrDefault("creator"), rollback: false);
            }
        }

        var answer = new JsonObject
        {
            ["model"] = model.Name,
            ["version"] = version.Number,
            ["sha256"] = sha,
            ["size_bytes"] = version.SizeBytes,
            ["already_stored"] = alreadyStored,
            ["existing"] = existing is not null,
            ["alias"] = existing is null ? alias : null,
            ["warnings"] = new JsonArray(),
            ["signature_changes"] = new JsonArray(),
        };
        return (existing is null ? 201 : 200, answer.ToJsonString());
    }

    private (int, string) MoveAlias(Model model, string alias, int? version, RecordedRequest request, bool rollback)
    {
        if (version is null)
        {
            return Error(400, "the body must be {\"version\": <integer>}");
        }

        Version? target = model.Versions.FirstOrDefault(v => v.Number == version);
        if (target is null)
        {
            return Error(404, $"model '{model.Name}' has no version {version}");
        }

        if (target.State is "retired" or "failed")
        {
            return Error(409, $"version {version} of model '{model.Name}' is {target.State}; an alias cannot point at it");
        }

        int? previous = Move(model, alias, target.Number, request.Header("X-Quiver-Actor"), rollback);
        return Ok(AliasJson(model, alias, target.Number, previous));
    }

    private (int, string) RemoveAlias(Model model, string alias, RecordedRequest request)
    {
        if (!model.Aliases.Remove(alias, out int previous))
        {
            return Error(404, $"model '{model.Name}' has no alias '{alias}'");
        }

        model.History.Insert(0, new Change(alias, null, previous, Now(), request.Header("X-Quiver-Actor"), false));
        return Ok(AliasJson(model, alias, null, previous));
    }

    private (int, string) Rollback(Model model, string alias, RecordedRequest request)
    {
        Change? last = model.History.FirstOrDefault(c => c.Alias == alias);
        if (last?.PreviousVersion is not { } previous)
        {
            return Error(409, $"alias '{alias}' of model '{model.Name}' has no earlier version to roll back to");
        }

        return MoveAlias(model, alias, previous, request, rollback: true);
    }

    private (int, string) Retire(Model model, Version version, RecordedRequest request)
    {
        version.State = "retired";
        version.Reason = (string?)request.BodyJson?["reason"];
        return Ok(VersionJson(model, version));
    }

    private int? Move(Model model, string alias, int version, string? actor, bool rollback)
    {
        int? previous = model.Aliases.TryGetValue(alias, out int old) ? old : null;
        model.Aliases[alias] = version;
        model.History.Insert(0, new Change(alias, version, previous, Now(), actor, rollback));
        return previous;
    }

    private static (int, string) WithVersion(Model model, string text, Func<Version, (int, string)> then) =>
        int.TryParse(text, out int number) && model.Versions.FirstOrDefault(v => v.Number == number) is { } version
            ? then(version)
            : Error(404, $"model '{model.Name}' has no version {text}");

    private static (int, string) Ok(JsonObject body) => (200, body.ToJsonString());

    private static (int, string) Error(int status, string message) => (status, new JsonObject { ["error"] = message }.ToJsonString());

    private static (int, string) NoRoute(RecordedRequest request) => Error(405, $"no route {request.Method} {request.Path}");

    private static JsonObject AliasJson(Model model, string alias, int? version, int? previous) => new()
    {
        ["model"] = model.Name,
        ["alias"] = alias,
        ["version"] = version,
        ["previous_version"] = previous,
    };

    private static JsonObject ModelJson(Model model) => new()
    {
        ["name"] = model.Name,
        ["description"] = model.Description,
        ["created_at"] = model.CreatedAt,
        ["aliases"] = new JsonObject(model.Aliases.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)a.Value))),
        ["latest_version"] = model.Versions.Count == 0 ? null : model.Versions.Max(v => v.Number),
        ["versions"] = new JsonArray([.. model.Versions.Select(v => VersionJson(model, v))]),
    };

    private static JsonObject DetailsJson(Model model)
    {
        JsonObject details = ModelJson(model);
        details["replicas"] = new JsonArray([.. model.Replicas.Select(r => JsonNode.Parse(r))]);
        details["history"] = new JsonArray([.. model.History.Select(ChangeJson)]);
        return details;
    }

    private static JsonObject VersionJson(Model model, Version version) => new()
    {
        ["version"] = version.Number,
        ["sha256"] = version.Sha256,
        ["size_bytes"] = version.SizeBytes,
        ["framework"] = "onnx",
        ["state"] = version.State,
        ["reason"] = version.Reason,
        ["creator"] = version.Creator,
        ["created_at"] = version.CreatedAt,
        ["description"] = version.Description,
        ["tags"] = new JsonArray([.. version.Tags.Select(t => JsonValue.Create(t))]),
        ["source_uri"] = version.SourceUri,
        ["training_run_id"] = version.TrainingRunId,
        ["inputs"] = JsonNode.Parse("""[{"name":"x","datatype":"FP32","shape":[-1,4]}]"""),
        ["outputs"] = JsonNode.Parse("""[{"name":"probabilities","datatype":"FP32","shape":[-1,3]}]"""),
        ["encrypted"] = false,
        ["aliases"] = new JsonArray([.. model.Aliases.Where(a => a.Value == version.Number).Select(a => JsonValue.Create(a.Key)).OrderBy(a => (string?)a)]),
    };

    private static JsonObject ChangeJson(Change change) => new()
    {
        ["alias"] = change.Alias,
        ["version"] = change.Version,
        ["previous_version"] = change.PreviousVersion,
        ["changed_at"] = change.ChangedAt,
        ["changed_by"] = change.ChangedBy,
        ["rollback"] = change.Rollback,
    };

    // A fixed, advancing clock: every change is one minute after the last, so outputs are exact.
    private string Now() => new DateTime(2026, 11, 25, 10, 0, 0, DateTimeKind.Utc).AddMinutes(_clock++).ToString("yyyy-MM-ddTHH:mm:ssZ");

    // iris: v1 retired, v2 production (promoted from v1), v3 staging; one replica serving v2. text_echo: one version, no aliases.
    private void Seed()
    {
        var iris = new Model("iris", "Iris flower classifier", Now());
        iris.Versions.Add(new Version(1, new string('1', 64), 1_024) { State = "retired", Reason = "superseded by 2", Creator = "bob", CreatedAt = Now(), Description = "first cut", Tags = ["baseline"] });
        iris.Versions.Add(new Version(2, Convert.ToHexStringLower(SHA256.HashData(IrisV2Bytes)), IrisV2Bytes.Length) { State = "ready", Creator = "bob", CreatedAt = Now(), Description = "more data", Tags = ["prod", "v2"] });
        iris.Versions.Add(new Version(3, new string('3', 64), 3_500_000) { State = "ready", Creator = "alice", CreatedAt = Now(), Description = "wider net", SourceUri = "s3://models/iris/3.onnx", TrainingRunId = "run-42" });
        Move(iris, "production", 1, "bob", rollback: false);
        Move(iris, "production", 2, "bob", rollback: false);
        Move(iris, "staging", 3, "alice", rollback: false);
        iris.Replicas.Add("""{"replica":"host-1234","version":2,"state":"ready","reason":null,"updated_at":"2026-11-25T10:30:00Z"}""");
        _models.Add(iris.Name, iris);

        var echo = new Model("text_echo", null, Now());
        echo.Versions.Add(new Version(1, new string('e', 64), 200) { State = "ready", Creator = "cli", CreatedAt = Now() });
        _models.Add(echo.Name, echo);
    }

    private sealed class Model(string name, string? description, string createdAt)
    {
        public string Name { get; } = name;

        public string? Description { get; } = description;

        public string CreatedAt { get; } = createdAt;

        public Dictionary<string, int> Aliases { get; } = new(StringComparer.Ordinal);

        public List<Version> Versions { get; } = [];

        public List<string> Replicas { get; } = [];

        /// <summary>Newest first.</summary>
        public List<Change> History { get; } = [];
    }

    private sealed class Version(int number, string sha256, long sizeBytes)
    {
        public int Number { get; } = number;

        public string Sha256 { get; } = sha256;

        public long SizeBytes { get; } = sizeBytes;

        public string State { get; set; } = "ready";

        public string? Reason { get; set; }

        public string? Creator { get; init; }

        public string? CreatedAt { get; init; }

        public string? Description { get; init; }

        public string[] Tags { get; init; } = [];

        public string? SourceUri { get; init; }

        public string? TrainingRunId { get; init; }

        public string? Config { get; init; }
    }

    private sealed record Change(string Alias, int? Version, int? PreviousVersion, string ChangedAt, string? ChangedBy, bool Rollback);
}
