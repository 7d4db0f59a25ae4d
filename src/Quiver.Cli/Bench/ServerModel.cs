using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Quiver.Cli.Bench;

/// <summary>A model input as the server's metadata describes it; -1 marks a dimension the model leaves open.</summary>
public sealed record ServedInput(string Name, string Datatype, long[] Shape);

/// <summary>What the bench needs to know about a served model: its inputs and whether its first dimension is a batch.</summary>
public sealed record ServedModelInfo(string Name, IReadOnlyList<ServedInput> Inputs, int MaxBatchSize);

/// <summary>The server's REST control plane: model metadata, configuration and statistics (not the measured requests).</summary>
public sealed class ServerApi(HttpClient client, Uri baseAddress, string model, string? version) : IDisposable
{
    private readonly string _modelPath = version is null
        ? $"v2/models/{Uri.EscapeDataString(model)}"
        : $"v2/models/{Uri.EscapeDataString(model)}/versions/{Uri.EscapeDataString(version)}";

    /// <summary>The model's REST inference address.</summary>
    public Uri InferUri => new(baseAddress, _modelPath + "/infer");

    /// <summary>Reads the model's metadata and configuration; a missing model or unreachable server is a <see cref="BenchException"/>.</summary>
    public async Task<ServedModelInfo> DescribeAsync(CancellationToken cancellationToken)
    {
        JsonElement metadata = await GetJsonAsync(_modelPath, cancellationToken);
        var inputs = metadata.GetProperty("inputs").EnumerateArray()
            .Select(i => new ServedInput(
                i.GetProperty("name").GetString()!,
                i.GetProperty("datatype").GetString()!,
                i.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray()))
            .ToList();

        // The configuration extension says whether the first dimension is a batch; without it, guess from an open first dimension.
        int maxBatchSize = inputs.Count > 0 && inputs[0].Shape is [-1, ..] ? 1 : 0;
        try
        {
            JsonElement config = await GetJsonAsync(_modelPath + "/config", cancellationToken);
            if (config.TryGetProperty("max_batch_size", out JsonElement value))
            {
                maxBatchSize = value.GetInt32();
            }
        }
        catch (BenchException)
        {
            // Older servers or other implementations may lack the configuration extension.
        }

        return new ServedModelInfo(model, inputs, maxBatchSize);
    }

    /// <summary>The model's cumulative statistics, or null when the server does not offer them.</summary>
    public async Task<StatisticsSample?> StatisticsAsync(CancellationToken cancellationToken)
    {
        try
        {
            return StatisticsSample.Parse(await GetJsonAsync(_modelPath + "/stats", cancellationToken));
        }
        catch (Exception e) when (e is BenchException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The server's GC counters from /metrics, or null when it does not publish them or refuses the scrape.</summary>
    public async Task<GcSample?> GcAsync(CancellationToken cancellationToken)
    {
        try
        {
            using HttpResponseMessage response = await client.GetAsync(new Uri(baseAddress, "metrics"), cancellationToken);
            return response.IsSuccessStatusCode ? GcSample.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Disposes the HTTP client.</summary>
    public void Dispose() => client.Dispose();

    private async Task<JsonElement> GetJsonAsync(string path, CancellationToken cancellationToken)
    {
        var uri = new Uri(baseAddress, path);
        HttpResponseMessage response;
        try
        {
            response = await client.GetAsync(uri, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new BenchException($"cannot reach the server at {baseAddress}: {Describe(e)}");
        }

        using (response)
        {
            string body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new BenchException($"{ErrorText(body).TrimEnd('.')} (asked {baseAddress} for model '{model}'{(version is null ? "" : $" version {version}")}).");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new BenchException($"GET {uri} failed with HTTP {(int)response.StatusCode}: {ErrorText(body)}");
            }

            try
            {
                using JsonDocument document = JsonDocument.Parse(body);
                return document.RootElement.Clone();
            }
            catch (JsonException)
            {
                throw new BenchException($"GET {uri} did not return JSON.");
            }
        }
    }

    /// <summary>The protocol's <c>{"error": "..."}</c> message, or the body itself.</summary>
    public static string ErrorText(string body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object &&
                document.RootElement.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not JSON: show it as it is.
        }

        return body.Length > 300 ? body[..300] + "..." : body;
    }

    /// <summary>The innermost reason of a failed HTTP call ("Connection refused").</summary>
    public static string Describe(HttpRequestException e) =>
        e.InnerException is SocketException socket ? socket.Message : e.Message;
}
