using System.CommandLine;

namespace Quiver.Cli.Bench;

/// <summary><c>quiver bench run</c>: closed-loop load against a KServe v2 server, over a sweep of concurrency levels.</summary>
public static class BenchRunCommand
{
    /// <summary>The command and its options.</summary>
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "REST base address of the server.", DefaultValueFactory = _ => "http://127.0.0.1:8000" };
        var grpcUrl = new Option<string>("--grpc-url") { Description = "gRPC base address (HTTP/2 cleartext), for --protocol grpc.", DefaultValueFactory = _ => "http://127.0.0.1:8001" };
        var model = new Option<string>("--model") { Description = "Model name.", Required = true };
        var version = new Option<string?>("--version") { Description = "Model version; by default the server's highest ready version." };
        var protocol = new Option<string>("--protocol")
        {
            Description = $"How requests are sent: {string.Join(", ", BenchProtocols.Names)}.",
            DefaultValueFactory = _ => "rest-json",
        };
        var shape = new Option<string[]>("--shape")
        {
            Description = "Input shape with the batch dimension, e.g. 1,64 (every input) or name:1,64 (one input; repeat the option). " +
                "By default the model's shape with open dimensions as 1.",
            AllowMultipleArgumentsPerToken = false,
        };
        var inputData = new Option<string?>("--input-data") { Description = "A KServe v2 JSON request whose inputs every request carries, instead of random data." };
        var concurrency = new Option<string>("--concurrency")
        {
            Description = "Concurrency levels, comma-separated: the number of requests kept in flight.",
            DefaultValueFactory = _ => "1",
        };
        var duration = new Option<string?>("--duration") { Description = "Measurement time per level (500ms, 10s, 2m); the default is 10s unless --requests is given." };
        var requests = new Option<long?>("--requests") { Description = "Measure exactly this many requests per level instead of a duration." };
        var warmup = new Option<string>("--warmup") { Description = "Unmeasured load before each level.", DefaultValueFactory = _ => "2s" };
        var seed = new Option<int>("--seed") { Description = "Seed of the random input data.", DefaultValueFactory = _ => 42 };
        var serverPid = new Option<int?>("--server-pid") { Description = "Process id of the server (same machine): report its resident memory around each level." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (schema in bench/README.md)." };
        var markdown = new Option<bool>("--markdown") { Description = "Print the report as a Markdown table." };

        var command = new Command("run", "Load a KServe v2 server over REST JSON, REST binary or gRPC; report throughput, latency percentiles and the server's time breakdown.")
        {
            url, grpcUrl, model, version, protocol, shape, inputData, concurrency, duration, requests, warmup, seed, serverPid, json, markdown,
        };
        command.SetAction((result, cancellationToken) => BenchCommand.GuardAsync("run", async () =>
        {
            ReportFormat format = BenchCommand.Format(result.GetValue(json), result.GetValue(markdown));
            string? durationText = result.GetValue(duration);
            long? requestCount = result.GetValue(requests);
            if (durationText is not null && requestCount is not null)
            {
                throw new BenchException("give --duration or --requests, not both.");
            }

            if (requestCount is < 1)
            {
                throw new BenchException($"--requests must be at least 1, got {requestCount}.");
            }

            if (result.GetValue(inputData) is not null && result.GetValue(shape) is { Length: > 0 })
            {
                throw new BenchException("--input-data sets the shapes itself; drop --shape.");
            }

            var settings = new RunSettings
            {
                Url = BaseAddress(result.GetValue(url)!, "--url"),
                GrpcUrl = BaseAddress(result.GetValue(grpcUrl)!, "--grpc-url"),
                Model = result.GetValue(model)!,
                Version = result.GetValue(version),
                Protocol = BenchProtocols.Parse(result.GetValue(protocol)!),
                Shapes = result.GetValue(shape) ?? [],
                InputData = result.GetValue(inputData),
                Concurrency = ArgumentValues.PositiveIntegers(result.GetValue(concurrency)!, "--concurrency"),
                Duration = requestCount is null ? ArgumentValues.Duration(durationText ?? "10s", "--duration") : null,
                Requests = requestCount,
                Warmup = ArgumentValues.Duration(result.GetValue(warmup)!, "--warmup"),
                Seed = result.GetValue(seed),
                ServerPid = result.GetValue(serverPid),
            };

            // Progress goes to stderr so stdout stays a clean table or JSON document.
            RunReport report = await BenchRunner.RunAsync(settings, line => Console.Error.WriteLine($"quiver bench run: {line}"), cancellationToken);
            ReportWriter.Write(report, format, Console.Out);
            return 0;
        }));
        return command;
    }

    private static Uri BaseAddress(string text, string option) =>
        Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new BenchException($"{option} '{text}' is not an http:// or https:// address.");
}
