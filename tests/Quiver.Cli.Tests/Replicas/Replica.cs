using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Cli.Tests.Replicas;

/// <summary>
/// One <c>quiver serve</c> process on a shared registry, as a replica in a deployment runs: its own data directory
/// (added by <see cref="QuiverProcess"/>), its own replica name, free ports, and a client for its HTTP API.
/// </summary>
internal sealed partial class Replica : IDisposable
{
    /// <summary>How long anything that should happen on its own (a start, a convergence) may take on a slow shared box.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The model every replica test serves.</summary>
    public const string Model = "m";

    private readonly QuiverProcess _process;
    private readonly HttpClient _client;

    private Replica(string name, QuiverProcess process, Uri address)
    {
        Name = name;
        _process = process;
        _client = new HttpClient { BaseAddress = address, Timeout = Timeout };
    }

    /// <summary>The <c>--replica-name</c> it reports its model states under.</summary>
    public string Name { get; }

    /// <summary>What it printed so far, for failure messages.</summary>
    public string Logs => $"--- {Name} stdout:\n{_process.Output}\n--- {Name} stderr:\n{_process.Error}";

    /// <summary>Whether the process is still running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Standard output so far.</summary>
    public string Output => _process.Output;

    /// <summary>Starts a replica on <paramref name="registry"/> and waits until it listens (its models are loaded by then).</summary>
    /// <param name="repository">The model repository it imports, or "" for none: it then knows models only from the registry.</param>
    /// <param name="dataDirectory">Its data directory (artifact cache), or null for a new one.</param>
    public static async Task<Replica> StartAsync(string name, string registry, string repository, string? dataDirectory = null)
    {
        string[] data = dataDirectory is null ? [] : ["--data-dir", dataDirectory];
        var process = QuiverProcess.Start(["serve", "--registry", registry, "--replica-name", name, "--model-repository", repository,
            "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0", .. data]);
        try
        {
            await process.WaitForOutputAsync("listening on http://", Timeout);
            Match address = ListeningOn().Match(process.Output);
            Assert.True(address.Success, $"no HTTP address in the listening line:\n{process.Output}");
            return new Replica(name, process, new Uri(address.Groups[1].Value));
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>The ONNX model for version <paramref name="version"/> of <see cref="Model"/>: output = input + 100 × version.</summary>
    public static byte[] ModelVersion(int version) =>
        SampleModels.AddConstant(TensorElementType.Float, Offset(version), SampleModels.Batch, 1).ToBytes();

    /// <summary>What version <paramref name="version"/> adds to its input, so every answer says which version gave it.</summary>
    public static float Offset(int version) => 100 * version;

    /// <summary>A model repository with <see cref="Model"/> in the given versions, in a new temp directory.</summary>
    public static string CreateRepository(params int[] versions)
    {
        string root = Directory.CreateTempSubdirectory("quiver-replicas-repo-").FullName;
        foreach (int version in versions)
        {
            string folder = Path.Combine(root, Model, version.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, "model.onnx"), ModelVersion(version));
        }

        return root;
    }

    /// <summary>Infers <see cref="Model"/> with input 1 (at <paramref name="version"/>, or the default when null).</summary>
    public async Task<InferAnswer> InferAsync(int? version = null)
    {
        const float Input = 1;
        string path = version is null ? $"/v2/models/{Model}/infer" : $"/v2/models/{Model}/versions/{version}/infer";
        (int status, JsonNode? body, string text) = await SendAsync(HttpMethod.Post, path,
            $$"""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[{{Input}}]}]}""");
        return status == 200
            ? new InferAnswer(status, (string?)body!["model_version"], (float)body["outputs"]![0]!["data"]![0]! - Input, text)
            : new InferAnswer(status, null, null, text);
    }

    /// <summary>Sends a request to the management or inference API; the body parsed when it is JSON.</summary>
    public async Task<(int Status, JsonNode? Body, string Text)> SendAsync(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using HttpResponseMessage response = await _client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        JsonNode? body = null;
        try
        {
            body = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (System.Text.Json.JsonException)
        {
        }

        return ((int)response.StatusCode, body, text);
    }

    /// <summary>Pushes a raw ONNX model as a new version of <see cref="Model"/> through the management API.</summary>
    public async Task<(int Status, JsonNode? Body, string Text)> PushAsync(byte[] onnx)
    {
        using var content = new ByteArrayContent(onnx);
        content.Headers.ContentType = new("application/octet-stream");
        using HttpResponseMessage response = await _client.PostAsync($"/v2/admin/models/{Model}/versions?description=pushed", content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text), text);
    }

    /// <summary>Moves <see cref="Model"/>'s <c>production</c> alias to <paramref name="version"/> through this replica.</summary>
    public Task<(int Status, JsonNode? Body, string Text)> PromoteAsync(int version) =>
        SendAsync(HttpMethod.Post, $"/v2/admin/models/{Model}/promote", $$"""{"version":{{version}}}""");

    /// <summary>
    /// Calls <paramref name="probe"/> until <paramref name="done"/> holds for what it returns, and returns that;
    /// fails after <see cref="Timeout"/> naming <paramref name="what"/>, the last value seen and the replicas' logs.
    /// </summary>
    public static async Task<T> EventuallyAsync<T>(string what, Func<Task<T>> probe, Func<T, bool> done, params Replica[] replicas)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            T last = await probe();
            if (done(last))
            {
                return last;
            }

            if (clock.Elapsed > Timeout)
            {
                throw new Xunit.Sdk.XunitException(
                    $"{what}: not within {Timeout.TotalSeconds} s; last seen: {last}\n{string.Join('\n', replicas.Select(r => r.Logs))}");
            }

            await Task.Delay(200);
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _process.Dispose();
    }

    [GeneratedRegex(@"listening on (http://\S+) \(HTTP\)")]
    private static partial Regex ListeningOn();
}

/// <summary>An inference answer: the status, the version that answered and what it added to the input (null unless 200).</summary>
internal sealed record InferAnswer(int Status, string? Version, float? Offset, string Text)
{
    /// <summary>Whether version <paramref name="version"/> gave this answer: 200, named so, and its offset in the output.</summary>
    public bool IsFrom(int version) =>
        Status == 200 && Version == version.ToString(CultureInfo.InvariantCulture) && Offset == Replica.Offset(version);
}
