using System.Net;

namespace Quiver.Cli.Bench;

/// <summary>
/// <c>quiver bench run</c>: describes the model, encodes its request once, checks that the server accepts it,
/// then for each concurrency level warms up and measures, reading the server's statistics around the measurement.
/// </summary>
public static class BenchRunner
{
    /// <summary>Runs every level of <paramref name="settings"/> and returns the report.</summary>
    public static async Task<RunReport> RunAsync(RunSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        int maxConcurrency = settings.Concurrency.Max();
        var apiClient = new HttpClient(NewHandler(4)) { Timeout = TimeSpan.FromSeconds(30) };
        Admin.ApiKeys.Apply(apiClient, Admin.ApiKeys.FromEnvironment());
        using var api = new ServerApi(apiClient, settings.Url, settings.Model, settings.Version);
        ServedModelInfo model = await api.DescribeAsync(cancellationToken);
        (IReadOnlyList<InputTensor> inputs, long batch) = InputPlan.Build(model, settings.Shapes, settings.InputData, settings.Seed);

        // HTTP/1.1 needs a connection per concurrent request; HTTP/2 multiplexes, opening more connections past
        // the server's stream limit (Kestrel's default is 100 per connection).
        using var loadClient = new HttpClient(NewHandler(maxConcurrency)) { Timeout = TimeSpan.FromSeconds(60) };
        Admin.ApiKeys.Apply(loadClient, Admin.ApiKeys.FromEnvironment());
        Func<InferenceCall> newCall = CallFactory(settings, api.InferUri, loadClient, inputs);

        string? refusal = await newCall().SendAsync(cancellationToken);
        if (refusal is not null)
        {
            Uri target = settings.Protocol == BenchProtocol.Grpc ? settings.GrpcUrl : settings.Url;
            throw new BenchException($"the first {settings.Protocol.Name()} request to {target} failed: {refusal}");
        }

        var levels = new List<LevelReport>();
        foreach (int concurrency in settings.Concurrency)
        {
            if (settings.Warmup > TimeSpan.Zero)
            {
                progress($"concurrency {concurrency}: warming up for {settings.Warmup.TotalSeconds:0.##} s");
                await LoadGenerator.RunAsync(newCall, concurrency, LoadBudget.For(settings.Warmup), cancellationToken);
            }

            long? rssBefore = ServerRss(settings);
            StatisticsSample? before = await api.StatisticsAsync(cancellationToken);
            GcSample? gcBefore = await api.GcAsync(cancellationToken);
            progress($"concurrency {concurrency}: measuring");
            LoadBudget budget = settings.Requests is { } count ? LoadBudget.Of(count) : LoadBudget.For(settings.Duration!.Value);
            LoadResult result = await LoadGenerator.RunAsync(newCall, concurrency, budget, cancellationToken);
            GcSample? gcAfter = await api.GcAsync(cancellationToken);
            StatisticsSample? after = await api.StatisticsAsync(cancellationToken);
            long? rssAfter = ServerRss(settings);

            long succeeded = result.Requests - result.Errors;
            ServerBreakdown? server = before is not null && after is not null ? ServerBreakdown.Between(before, after) : null;
            levels.Add(new LevelReport(
                concurrency,
                result.Requests,
                result.Errors,
                result.FirstError,
                result.ElapsedSeconds,
                succeeded / result.ElapsedSeconds,
                succeeded * batch / result.ElapsedSeconds,
                LatencySummary.FromTicks(result.LatencyTicks),
                server,
                rssBefore is not null && rssAfter is not null ? new MemoryReport(rssBefore.Value, rssAfter.Value) : null,
                gcBefore is not null && gcAfter is not null ? GcReport.Between(gcBefore, gcAfter, server?.Inferences ?? succeeded * batch) : null));
        }

        return new RunReport(
            RunReport.CurrentSchema,
            settings.Model,
            settings.Version,
            settings.Protocol.Name(),
            (settings.Protocol == BenchProtocol.Grpc ? settings.GrpcUrl : settings.Url).ToString(),
            inputs.Select(i => new InputReport(i.Name, Quiver.Core.Tensors.DataTypes.Name(i.Type), i.Shape)).ToList(),
            batch,
            settings.Duration?.TotalSeconds,
            settings.Requests,
            settings.Warmup.TotalSeconds,
            levels);
    }

    private static long? ServerRss(RunSettings settings) => settings.ServerPid is { } pid ? ProcessMemory.ResidentKib(pid) : null;

    // Workers share the one encoded request: it is never written to, so sharing costs nothing and encodes once.
    private static Func<InferenceCall> CallFactory(RunSettings settings, Uri inferUri, HttpClient client, IReadOnlyList<InputTensor> inputs)
    {
        switch (settings.Protocol)
        {
            case BenchProtocol.RestJson:
                byte[] json = RequestEncoding.RestJson(inputs);
                return () => new RestInferenceCall(client, inferUri, json, binaryHeaderLength: null);
            case BenchProtocol.RestBinary:
                (byte[] body, int headerLength) = RequestEncoding.RestBinary(inputs);
                return () => new RestInferenceCall(client, inferUri, body, headerLength);
            default:
                byte[] frame = RequestEncoding.GrpcFrame(settings.Model, settings.Version, inputs);
                var method = new Uri(settings.GrpcUrl, "/inference.GRPCInferenceService/ModelInfer");
                return () => new GrpcInferenceCall(client, method, frame);
        }
    }

    private static SocketsHttpHandler NewHandler(int connections) => new()
    {
        MaxConnectionsPerServer = Math.Max(connections, 1),
        EnableMultipleHttp2Connections = true,
        // Loopback benchmarks must not go through a proxy from the environment, nor pay for cookies or decompression.
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };
}
