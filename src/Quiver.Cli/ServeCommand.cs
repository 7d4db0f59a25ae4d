using System.CommandLine;
using Quiver.Server;

namespace Quiver.Cli;

/// <summary><c>quiver serve</c>: runs the server until Ctrl+C or SIGTERM.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new QuiverServerOptions();
        var repository = new Option<string>("--model-repository")
        {
            Description = "Model repository in Triton's layout: <model>/<version>/model.onnx, optional <model>/config.json.",
            DefaultValueFactory = _ => defaults.ModelRepository,
        };
        var host = new Option<string>("--host")
        {
            Description = "Address to listen on. Non-loopback addresses need --allow-unauthenticated until authentication exists.",
            DefaultValueFactory = _ => defaults.Host,
        };
        var httpPort = new Option<int>("--http-port")
        {
            Description = "HTTP port for the KServe v2 REST API (0 picks a free port).",
            DefaultValueFactory = _ => defaults.HttpPort,
        };
        var grpcPort = new Option<int>("--grpc-port")
        {
            Description = "gRPC port (HTTP/2 cleartext) for inference.GRPCInferenceService (0 picks a free port).",
            DefaultValueFactory = _ => defaults.GrpcPort,
        };
        var metricsPort = new Option<int>("--metrics-port")
        {
            Description = "Port for Prometheus metrics at /metrics (0 picks a free port); /metrics is on the HTTP port too.",
            DefaultValueFactory = _ => defaults.MetricsPort,
        };
        var tlsCert = new Option<string?>("--tls-cert")
        {
            Description = "PEM certificate: serve REST (HTTP/1.1 and HTTP/2) and gRPC over TLS. Needs --tls-key.",
        };
        var tlsKey = new Option<string?>("--tls-key")
        {
            Description = "PEM private key for --tls-cert.",
        };
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "Directory for Quiver's own state: the SQLite registry and the artifact store.",
            DefaultValueFactory = _ => defaults.DataDirectory,
        };
        var maxRequestBytes = new Option<long>("--max-request-bytes")
        {
            Description = "Largest request body accepted; larger ones get HTTP 413.",
            DefaultValueFactory = _ => defaults.MaxRequestBodyBytes,
        };
        var cacheBytes = new Option<long>("--cache-bytes")
        {
            Description = "Memory for the result cache of models with response_cache on (0 turns it off).",
            DefaultValueFactory = _ => defaults.CacheBytes,
        };
        var otlpEndpoint = new Option<string?>("--otlp-endpoint")
        {
            Description = "Export traces over OTLP/HTTP to this collector (e.g. http://localhost:4318); OTEL_EXPORTER_OTLP_ENDPOINT works too.",
            DefaultValueFactory = _ => defaults.OtlpEndpoint,
        };
        var logFormat = new Option<string>("--log-format")
        {
            Description = "text (human-readable, the default) or json (one object per line, for log shippers).",
            DefaultValueFactory = _ => "text",
        };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var registry = new Option<string?>("--registry")
        {
            Description = "The model registry: a SQLite file (default: registry.db in --data-dir) or postgres://user:pass@host:port/db, shared by replicas.",
        };
        var masterKeyFile = new Option<string?>("--master-key-file")
        {
            Description = "Master key (32 bytes, raw or base64) that turns on encryption of model artifacts at rest; QUIVER_MASTER_KEY works too.",
        };
        var replicaName = new Option<string>("--replica-name")
        {
            Description = "This server's name in per-replica model states (default: the host name).",
            DefaultValueFactory = _ => defaults.ReplicaName,
        };
        var repositoryPoll = new Option<double>("--repository-poll-seconds")
        {
            Description = "How often the model repository is scanned for new version folders (0 turns scanning off).",
            DefaultValueFactory = _ => defaults.RepositoryPollInterval.TotalSeconds,
        };
        var driftWebhook = new Option<string?>("--drift-webhook")
        {
            Description = "URL that receives a JSON event (POST) whenever a model version's drift state changes.",
        };
        var allowUnauthenticated = new Option<bool>("--allow-unauthenticated")
        {
            Description = "Allow a non-loopback --host without authentication (only behind a network that controls access).",
        };

        var limitsFile = new Option<string?>("--limits-file")
        {
            Description = "JSON file of rate and concurrency limits per principal and tenant (docs/security.md, Limits); none by default.",
        };
        var maxJsonDepth = new Option<int>("--max-json-depth")
        {
            Description = "Deepest nesting of a JSON inference request (400 beyond).",
            DefaultValueFactory = _ => defaults.MaxJsonDepth,
        };
        var maxJsonElements = new Option<long>("--max-json-elements")
        {
            Description = "Most JSON values (tensor elements, inputs, outputs, parameters) in one JSON inference request (400 beyond).",
            DefaultValueFactory = _ => defaults.MaxJsonElements,
        };
        var headersTimeout = new Option<double>("--request-headers-timeout-seconds")
        {
            Description = "Time a client has to send a request's headers before the connection is closed.",
            DefaultValueFactory = _ => defaults.RequestHeadersTimeout.TotalSeconds,
        };
        var minBodyRate = new Option<double>("--min-request-body-rate")
        {
            Description = "Slowest request body upload accepted, bytes/s after 5 s of grace (0 turns the check off).",
            DefaultValueFactory = _ => defaults.MinRequestBodyBytesPerSecond,
        };
        var maxHeaderBytes = new Option<int>("--max-request-header-bytes")
        {
            Description = "Largest total size of a request's headers (431 beyond).",
            DefaultValueFactory = _ => defaults.MaxRequestHeaderBytes,
        };
        var maxHeaders = new Option<int>("--max-request-headers")
        {
            Description = "Most headers in one request (431 beyond).",
            DefaultValueFactory = _ => defaults.MaxRequestHeaderCount,
        };

        var command = new Command("serve", "Serve the registry's models (the repository imported into it) over KServe v2 REST and gRPC.")
        {
            repository, host, httpPort, grpcPort, metricsPort, tlsCert, tlsKey, dataDir, registry, masterKeyFile, replicaName, repositoryPoll,
            maxRequestBytes, cacheBytes, otlpEndpoint, logFormat, driftWebhook, allowUnauthenticated,
            limitsFile, maxJsonDepth, maxJsonElements, headersTimeout, minBodyRate, maxHeaderBytes, maxHeaders,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = new QuiverServerOptions
            {
                ModelRepository = result.GetValue(repository)!,
                Host = result.GetValue(host)!,
                HttpPort = result.GetValue(httpPort),
                GrpcPort = result.GetValue(grpcPort),
                MetricsPort = result.GetValue(metricsPort),
                TlsCertificatePath = result.GetValue(tlsCert),
                TlsKeyPath = result.GetValue(tlsKey),
                DataDirectory = result.GetValue(dataDir)!,
                Registry = result.GetValue(registry),
                MasterKeyFile = result.GetValue(masterKeyFile),
                ReplicaName = result.GetValue(replicaName)!,
                RepositoryPollInterval = TimeSpan.FromSeconds(Math.Max(0, result.GetValue(repositoryPoll))),
                MaxRequestBodyBytes = result.GetValue(maxRequestBytes),
                CacheBytes = result.GetValue(cacheBytes),
                JsonLogs = result.GetValue(logFormat) == "json",
                OtlpEndpoint = result.GetValue(otlpEndpoint),
                AllowUnauthenticatedRemote = result.GetValue(allowUnauthenticated),
                DriftWebhook = result.GetValue(driftWebhook),
                LimitsFile = result.GetValue(limitsFile),
                MaxJsonDepth = result.GetValue(maxJsonDepth),
                MaxJsonElements = result.GetValue(maxJsonElements),
                RequestHeadersTimeout = TimeSpan.FromSeconds(result.GetValue(headersTimeout)),
                MinRequestBodyBytesPerSecond = result.GetValue(minBodyRate),
                MaxRequestHeaderBytes = result.GetValue(maxHeaderBytes),
                MaxRequestHeaderCount = result.GetValue(maxHeaders),
            };
            return await RunAsync(options, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(QuiverServerOptions options, CancellationToken cancellationToken)
    {
        QuiverServer server;
        try
        {
            server = await QuiverServer.StartAsync(options, cancellationToken: cancellationToken);
        }
        catch (ServerStartException e)
        {
            foreach (string error in e.Errors)
            {
                await Console.Error.WriteLineAsync($"quiver serve: {error}");
            }

            return 1;
        }

        await using (server)
        {
            await server.WaitForShutdownAsync(cancellationToken);
        }

        return 0;
    }
}
