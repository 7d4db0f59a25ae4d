using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Quiver.Core;
using Quiver.Core.Batch;
using Quiver.Core.Caching;
using Quiver.Core.Lifecycle;
using Quiver.Core.Registry;
using Quiver.Core.Routing;
using Quiver.Core.Storage;
using Quiver.Core.Models;
using Quiver.Core.Security;
using Quiver.Core.Security.Audit;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Quiver.Core.Monitoring;
using Quiver.Core.Monitoring.Payloads;
using Quiver.Server.Monitoring;
using Quiver.Onnx;
using Quiver.Server.Audit;
using Quiver.Server.Dashboard;
using Quiver.Server.Grpc;
using Quiver.Server.Rest;
using Quiver.Server.Security;

namespace Quiver.Server;

/// <summary>A running Quiver server: the model repository loaded, Kestrel listening.</summary>
public sealed partial class QuiverServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private QuiverServer(WebApplication app, ModelLifecycle lifecycle, Uri httpAddress, Uri grpcAddress)
    {
        _app = app;
        Lifecycle = lifecycle;
        HttpAddress = httpAddress;
        GrpcAddress = grpcAddress;
    }

    /// <summary>The models being served.</summary>
    public ModelCatalog Catalog => Lifecycle.Catalog;

    /// <summary>The registry, the artifacts and what this server loads from them.</summary>
    public ModelLifecycle Lifecycle { get; }

    /// <summary>The HTTP address actually bound (with the real port when 0 was asked for).</summary>
    public Uri HttpAddress { get; }

    /// <summary>The gRPC (HTTP/2 cleartext) address actually bound.</summary>
    public Uri GrpcAddress { get; }

    /// <summary>The file in the data directory holding the pseudonym key (32 random bytes, created owner-only at first start).</summary>
    public const string PseudonymKeyFileName = "pseudonym.key";

    /// <summary>The file in the data directory holding the key batch uploads are sealed with (32 random bytes, created owner-only at first start).</summary>
    public const string UploadKeyFileName = "upload.key";

    /// <summary>
    /// The keyed HMAC-SHA256 pseudonymizer of this server (also a singleton service). Anything that writes a sensitive
    /// value down (an audit detail, a log line) writes <see cref="Pseudonymizer.Pseudonym(string)"/> of it instead;
    /// <see cref="SensitiveValuesOf"/> says which values of a model are sensitive.
    /// </summary>
    public Pseudonymizer Pseudonymizer { get; private init; } = null!;

    /// <summary>The sensitive inputs and parameters of a served model (any version), with this server's pseudonymizer.</summary>
    public SensitiveValues SensitiveValuesOf(string model) => new(
        [.. Catalog.Models.GetValueOrDefault(model, []).SelectMany(v => v.Model?.Config.SensitiveInputs ?? [])],
        [.. Catalog.Models.GetValueOrDefault(model, []).SelectMany(v => v.Model?.Config.SensitiveParameters ?? [])],
        Pseudonymizer);

    /// <summary>The address of the Prometheus endpoint (<c>/metrics</c>), also served on the HTTP port.</summary>
    public Uri MetricsAddress { get; private init; } = null!;

    private IDisposable[] _monitoring = [];
    private PayloadLog? _payloads;
    private DriftNotifier? _driftNotifier;
    private RolloutController? _rollouts;
    private BatchJobManager? _batchJobs;
    private AuditChainMonitor? _auditMonitor;
    private JwtAuthenticator? _jwt;

    /// <summary>
    /// Validates the options, loads ONNX Runtime and the model repository, and starts listening.
    /// Throws <see cref="ServerStartException"/> with every problem when it cannot start.
    /// </summary>
    /// <remarks>
    /// <paramref name="configureServices"/> adds services before the host is built: the audit sink
    /// (<see cref="Quiver.Core.Security.IAuditSink"/>) that authentication failures and denials are recorded in, say.
    /// </remarks>
    public static async Task<QuiverServer> StartAsync(QuiverServerOptions options, Action<ILoggingBuilder>? configureLogging = null,
        CancellationToken cancellationToken = default, Action<IServiceCollection>? configureServices = null)
    {
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ServerStartException(errors);
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Every log line written during a request carries its trace and span ids (W3C trace context).
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        // ASP.NET Core's own lines at Information are four per request ("Request starting", "Executing endpoint"...):
        // at tens of thousands of requests a second they cost more than the inference. Its warnings and errors stay.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (configureLogging is null && options.JsonLogs)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
            });
        }
        else if (configureLogging is null)
        {
            // Scopes carry the request (RequestId, trace and span ids) into every line written while serving it.
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.IncludeScopes = true;
            });
        }
        else
        {
            configureLogging(builder.Logging);
        }

        X509Certificate2? certificate;
        try
        {
            certificate = options.TlsCertificatePath is { } certPath
                ? X509Certificate2.CreateFromPemFile(certPath, options.TlsKeyPath)
                : null;
        }
        catch (Exception e) when (e is CryptographicException or IOException or ArgumentException)
        {
            throw new ServerStartException([$"cannot read the TLS certificate and key: {e.Message}"]);
        }

        if (options.OtlpEndpoint is { } otlp)
        {
            // Spans of ASP.NET Core (which continues an incoming traceparent) and Quiver's own, exported in batches.
            builder.Services.AddOpenTelemetry()
                .ConfigureResource(resource => resource.AddService("quiver", serviceVersion: ServerInfo.Version))
                .WithTracing(tracing => tracing
                    .AddSource(QuiverTracing.SourceName)
                    .AddAspNetCoreInstrumentation()
                    .AddOtlpExporter(exporter =>
                    {
                        exporter.Endpoint = new Uri(new Uri(otlp), "v1/traces");
                        exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
                        exporter.BatchExportProcessorOptions.ScheduledDelayMilliseconds = options.OtlpExportDelayMilliseconds;
                    }));
        }

        ListenOptions? httpListener = null;
        ListenOptions? grpcListener = null;
        ListenOptions? metricsListener = null;
        // Set once the logger factory exists, before the server listens: the handshake check reads it per connection.
        ClientCertificateAuthenticator? clientCertificates = null;
        Action<HttpsConnectionAdapterOptions>? https = certificate is null
            ? null
            : Https(certificate, options.ClientCertificates.Mode, presented => clientCertificates!.AcceptAtHandshake(presented));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            // Slow and flooding clients: Kestrel closes the connection (headers too slow), cuts the body (too slow)
            // or answers 431 (headers too large or too many), and the process carries on.
            kestrel.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            kestrel.Limits.MinRequestBodyDataRate = options.MinRequestBodyBytesPerSecond > 0
                ? new MinDataRate(options.MinRequestBodyBytesPerSecond, TimeSpan.FromSeconds(5))
                : null;
            kestrel.Limits.MaxRequestHeadersTotalSize = options.MaxRequestHeaderBytes;
            kestrel.Limits.MaxRequestHeaderCount = options.MaxRequestHeaderCount;
            kestrel.AddServerHeader = false;

            // Without TLS there is no ALPN to offer HTTP/2 on the REST port, so it serves HTTP/1.1; with TLS, both.
            httpListener = Listen(kestrel, options.Host, options.HttpPort,
                certificate is null ? HttpProtocols.Http1 : HttpProtocols.Http1AndHttp2, https);

            // Cleartext gRPC clients speak HTTP/2 with prior knowledge, which needs an HTTP/2-only endpoint.
            grpcListener = Listen(kestrel, options.Host, options.GrpcPort, HttpProtocols.Http2, https);
            // The metrics port serves the whole application too, so it asks for client certificates like the others.
            metricsListener = Listen(kestrel, options.Host, options.MetricsPort, HttpProtocols.Http1, https);
        });

        // One pseudonym key per data directory, for everything that writes sensitive values down (payload logs, batch
        // error files, audit details): the audit sink and others resolve it from the services.
        Pseudonymizer pseudonymizer;
        UploadCipher uploads;
        RequestLimits limits;
        try
        {
            pseudonymizer = Pseudonymizer.FromKeyFile(Path.Combine(options.DataDirectory, PseudonymKeyFileName));
            uploads = UploadCipher.FromKeyFile(Path.Combine(options.DataDirectory, UploadKeyFileName));
            limits = options.ResolveLimits();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            throw new ServerStartException([e.Message]);
        }

        builder.Services.AddSingleton(pseudonymizer);

        // The audit log needs the registry, opened after the host is built; requests only run once it is set.
        AuditLog? auditLog = null;
        builder.Services.AddSingleton<IAuditSink>(_ => auditLog ?? throw new InvalidOperationException("the audit log is not open yet."));

        // After the audit log's registration, so a test's own sink takes its place.
        configureServices?.Invoke(builder.Services);

        WebApplication app = builder.Build();
        ILoggerFactory loggerFactory = app.Services.GetRequiredService<ILoggerFactory>();
        ILogger logger = loggerFactory.CreateLogger("Quiver.Server");

        JwtAuthenticator? jwt;
        try
        {
            (jwt, clientCertificates) = await CreateAuthenticatorsAsync(options, loggerFactory, cancellationToken);
        }
        catch (ServerStartException)
        {
            await app.DisposeAsync();
            throw;
        }

        OnnxRuntime runtime;
        ModelLifecycle lifecycle;
        try
        {
            runtime = OnnxRuntime.Initialize(loggerFactory);
            Log.RuntimeLoaded(logger, runtime.Version, runtime.LibraryPath, string.Join(", ", runtime.AvailableProviders));
            (lifecycle, auditLog) = await StartLifecycleAsync(options, runtime, loggerFactory, cancellationToken);
        }
        catch (Exception e) when (e is OrtLibraryException or DirectoryNotFoundException or RegistryException or IOException
            or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            jwt?.Dispose();
            await app.DisposeAsync();
            throw new ServerStartException([e.Message]);
        }

        ModelCatalog catalog = lifecycle.Catalog;
        var metrics = new InferenceMetrics(catalog, lifecycle.Endpoints);
        var auditMonitor = new AuditChainMonitor(auditLog, metrics.Meter, options.AuditVerifyInterval, loggerFactory.CreateLogger("Quiver.Audit"));
        var exporter = new PrometheusExporter(metrics.Meter);
        // Payloads of models with payload_logging on go to <data-dir>/payloads; sensitive inputs as pseudonyms.
        var payloads = new PayloadLog(Path.Combine(options.DataDirectory, "payloads"), options.PayloadLogMaxFileBytes, keepFiles: 5, pseudonymizer);
        var service = new InferenceService(catalog, options.CacheBytes > 0 ? new ResponseCache(options.CacheBytes) : null, metrics, payloads, lifecycle.Endpoints);
        app.MapGet("/metrics", () => Results.Text(exporter.Scrape(), "text/plain; version=0.0.4; charset=utf-8"));
        app.UseMiddleware<ErrorHandlingMiddleware>();
        // Authentication first: the audit middleware records the principal it set.
        app.UseMiddleware<SecurityMiddleware>(new SecuritySettings(CreateAuthenticator(options, lifecycle.Registry, jwt, clientCertificates), lifecycle.Registry, lifecycle.Endpoints, options.OpenHealth,
            new NotFoundMessages(lifecycle), metrics));
        app.UseMiddleware<AuditMiddleware>();

        if (limits.Any)
        {
            // Rate and concurrency limits per principal and tenant. MUST run AFTER the authentication middleware, which
            // puts the caller on the context (Features.Set<Principal>); before it, every caller counts as Anonymous.
            app.UseMiddleware<RequestLimitMiddleware>(new RequestLimiter(limits, options.Clock), metrics);
            Log.LimitsInForce(logger, limits.ToString());
        }

        app.MapV2(service, options);
        app.MapRepository(lifecycle, options);
        app.MapAdmin(lifecycle, options);
        app.MapEndpointAdmin(lifecycle, options);
        app.MapExperiments(lifecycle, options);
        app.MapAudit(auditLog, auditMonitor);
        var rollouts = new RolloutController(lifecycle, options.RolloutCheckInterval, loggerFactory.CreateLogger("Quiver.Rollouts"), auditLog);
        app.MapRollouts(rollouts, lifecycle.Endpoints, options);
        app.MapDrift(lifecycle, options);
        var latencies = new LatencyHistograms(metrics.Meter);
        app.MapDashboard(new DashboardSources(catalog, latencies, options.CacheBytes > 0, lifecycle.Endpoints, rollouts.ReadAsync),
            TimeProvider.System);
        BatchJobManager batchJobs = CreateBatchJobs(options, lifecycle, service, pseudonymizer, uploads);
        app.MapBatchJobs(batchJobs, options);
        app.MapGrpc(new GrpcInferenceService(service, lifecycle, V2Endpoints.Extensions), (int)options.MaxRequestBodyBytes, loggerFactory.CreateLogger("Quiver.Grpc"));
        app.MapFallback((HttpContext context) => V2Endpoints.WriteErrorAsync(context, StatusCodes.Status404NotFound,
            $"no endpoint {context.Request.Method} {context.Request.Path}; see the Open Inference Protocol's /v2 paths."));

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await rollouts.DisposeAsync();
            await batchJobs.DisposeAsync();
            await auditMonitor.DisposeAsync();
            await StopLifecycleAsync(lifecycle);
            await payloads.DisposeAsync();
            jwt?.Dispose();
            await app.DisposeAsync();
            throw new ServerStartException([$"cannot listen on {options.Host}:{options.HttpPort}: {e.Message}"]);
        }

        var server = new QuiverServer(app, lifecycle, AddressOf(httpListener!, certificate is not null), AddressOf(grpcListener!, certificate is not null))
        {
            MetricsAddress = AddressOf(metricsListener!, certificate is not null),
            _monitoring = [exporter, latencies, metrics],
            Pseudonymizer = pseudonymizer,
            _payloads = payloads,
            _rollouts = rollouts,
            _batchJobs = batchJobs,
            _auditMonitor = auditMonitor,
            _jwt = jwt,
            _driftNotifier = options.DriftWebhook is { } webhook
                ? new DriftNotifier(catalog, new Uri(webhook), options.DriftCheckInterval, loggerFactory.CreateLogger("Quiver.Drift"))
                : null,
        };
        Log.Listening(logger, server.HttpAddress.ToString(), server.GrpcAddress.ToString(), lifecycle.Registry.Location);
        Log.Dashboard(logger, new Uri(server.HttpAddress, "ui/").ToString());
        Log.Authentication(logger, options.AuthenticationConfigured
            ? $"required on every port (API keys{(options.Jwt is not null ? ", JWT" : "")}" +
              $"{(options.ClientCertificates.Mode != ClientCertificateRequirement.None ? ", client certificates" : "")}" +
              $"{(options.OpenHealth ? "; health endpoints open" : "")})"
            : "off: every caller is anonymous with every role");
        return server;
    }

    // Server-side batch jobs: records in the registry database, outputs and checkpoints in <data-dir>/batch/<id>, or where
    // the job asks under the batch output root.
    private static BatchJobManager CreateBatchJobs(QuiverServerOptions options, ModelLifecycle lifecycle, InferenceService service, Pseudonymizer pseudonymizer,
        UploadCipher uploads)
    {
        string root = Path.Combine(options.DataDirectory, "batch");
        var jobs = new BatchJobManager(new RegistryBatchJobStore(lifecycle.Registry, lifecycle.Replica), root, spec =>
        {
            ServedModel served = lifecycle.Catalog.Find(spec.Model, spec.Version, out var error)
                ?? throw new BatchException(error!.Kind == Quiver.Core.Tensors.ErrorKind.NotFound ? BatchErrorKind.ModelNotFound : BatchErrorKind.Model, error.Message);
            RegisteredVersion? version = lifecycle.Registry.GetVersionAsync(served.Name, served.Version).GetAwaiter().GetResult();
            return new ResolvedBatchModel(
                BatchModel.Served($"{served.Name}:{served.Version}", version?.Sha256 ?? $"{served.Name}:{served.Version}:{served.LoadId}"),
                new ScheduledEngine(service, served),
                SensitiveValues.For(served.Config, pseudonymizer));
        }, outputRoot: options.BatchOutputRoot ?? Path.Combine(root, "outputs"))
        {
            Uploads = uploads,
        };
        jobs.Start();
        return jobs;
    }

    // The credentials this server accepts: API keys from the registry always, JWTs and client certificates when
    // configured; null when authentication is off (loopback, every caller anonymous).
    private static RequestAuthenticator? CreateAuthenticator(QuiverServerOptions options, IModelRegistry registry,
        JwtAuthenticator? jwt, ClientCertificateAuthenticator? clientCertificates) =>
        options.AuthenticationConfigured
            ? new RequestAuthenticator(new ApiKeyAuthenticator(registry, TimeProvider.System),
                jwt is null ? null : jwt.AuthenticateAsync,
                clientCertificates is null ? null : clientCertificates.Authenticate)
            : null;

    /// <summary>Every endpoint the server maps (REST routes and the gRPC service's route), as routing sees them.</summary>
    public IReadOnlyList<Endpoint> Endpoints =>
        ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)_app).DataSources.SelectMany(source => source.Endpoints).ToList();

    /// <summary>Completes when the host shuts down (Ctrl+C, SIGTERM).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (_batchJobs is not null)
        {
            // Before the models go: a running job stops at a checkpoint and resumes at the next start.
            await _batchJobs.DisposeAsync();
        }

        if (_driftNotifier is not null)
        {
            await _driftNotifier.DisposeAsync();
        }

        if (_rollouts is not null)
        {
            await _rollouts.DisposeAsync();
        }

        if (_auditMonitor is not null)
        {
            await _auditMonitor.DisposeAsync();
        }

        await StopLifecycleAsync(Lifecycle);
        if (_payloads is not null)
        {
            await _payloads.DisposeAsync();
        }

        foreach (IDisposable part in _monitoring)
        {
            part.Dispose();
        }

        _jwt?.Dispose();
    }

    // The JWT and client-certificate authenticators the options ask for, their files read now so a bad one stops the
    // start. A JWKS URL that is down only warns: the keys are fetched again on the first token.
    private static async Task<(JwtAuthenticator? Jwt, ClientCertificateAuthenticator? ClientCertificates)> CreateAuthenticatorsAsync(
        QuiverServerOptions options, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        JwtAuthenticator? jwt = null;
        if (options.Jwt is { } jwtOptions)
        {
            jwt = new JwtAuthenticator(jwtOptions, TimeProvider.System, loggerFactory.CreateLogger("Quiver.Security.Jwt"));
            if (await jwt.LoadKeysAsync(cancellationToken) is { } error && !jwtOptions.JwksIsUrl)
            {
                errors.Add($"--jwt-jwks: {error}");
            }
        }

        ClientCertificateAuthenticator? clientCertificates = null;
        if (options.ClientCertificates.Mode != ClientCertificateRequirement.None)
        {
            try
            {
                clientCertificates = ClientCertificateAuthenticator.Load(options.ClientCertificates, TimeProvider.System,
                    loggerFactory.CreateLogger("Quiver.Security.Mtls"));
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add(e.Message);
            }
        }

        if (errors.Count > 0)
        {
            jwt?.Dispose();
            throw new ServerStartException(errors);
        }

        return (jwt, clientCertificates);
    }

    // TLS 1.2 and 1.3 only (1.0 and 1.1 are deprecated by RFC 8996). With client certificates optional, any presented
    // one passes the handshake and the authentication middleware answers 401 for a bad one; required, a bad or
    // missing one fails the handshake itself.
    private static Action<HttpsConnectionAdapterOptions> Https(X509Certificate2 certificate, ClientCertificateRequirement clientCertificates,
        Func<X509Certificate2, bool> acceptAtHandshake) => https =>
    {
        https.ServerCertificate = certificate;
        https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        https.CheckCertificateRevocation = false;
        https.ClientCertificateMode = clientCertificates switch
        {
            ClientCertificateRequirement.Optional => ClientCertificateMode.AllowCertificate,
            ClientCertificateRequirement.Required => ClientCertificateMode.RequireCertificate,
            _ => ClientCertificateMode.NoCertificate,
        };
        if (clientCertificates != ClientCertificateRequirement.None)
        {
            // Kestrel's own check would trust the system's CAs; ours trusts the configured bundle alone.
            https.ClientCertificateValidation = (presented, _, _) =>
                clientCertificates == ClientCertificateRequirement.Optional || acceptAtHandshake(presented);
        }
    };

    // The registry (SQLite in the data directory unless configured), the audit log in it, the artifact store beside
    // it, the repository imported into them, and every model loaded before the server listens.
    private static async Task<(ModelLifecycle, AuditLog)> StartLifecycleAsync(QuiverServerOptions options, OnnxRuntime runtime,
        ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.DataDirectory);
        IModelRegistry registry = await ModelRegistry.OpenAsync(
            options.Registry ?? Path.Combine(options.DataDirectory, ModelRegistry.DefaultFileName), loggerFactory.CreateLogger("Quiver.Registry"), cancellationToken);
        try
        {
            var auditLog = new AuditLog((IAuditStore)registry,
                AuditKey.LoadOrCreate(options.AuditKeyFile ?? Path.Combine(options.DataDirectory, AuditKey.DefaultFileName)),
                loggerFactory.CreateLogger("Quiver.Audit"), options.AuditAnchorInterval);
            Func<MasterKey?> loadKey = options.MasterKeyFile is { } keyFile
                ? () => MasterKey.FromFile(keyFile)
                : () => Environment.GetEnvironmentVariable(MasterKey.DefaultEnvironmentVariable) is { Length: > 0 } ? MasterKey.FromEnvironment() : null;
            Func<MasterKey?>? loadPendingKey = options.MasterKeyFile is { } rotatedFile
                ? () => File.Exists(MasterKey.PendingPathFor(rotatedFile)) ? MasterKey.FromFile(MasterKey.PendingPathFor(rotatedFile)) : null
                : null;
            var vault = new ArtifactVault(Path.Combine(options.DataDirectory, "artifacts"), loadKey, registry as IArtifactBlobStore, loadPendingKey);
            var catalog = new ModelCatalog();
            ModelPublisher publisher = new(registry, vault, runtime);
            RepositoryImporter? importer = string.IsNullOrEmpty(options.ModelRepository) ? null : new RepositoryImporter(options.ModelRepository, publisher, registry);
            var lifecycle = new ModelLifecycle(registry, vault, catalog, runtime, importer,
                new LifecycleSettings(options.ReplicaName, options.RegistryPollInterval, options.RepositoryPollInterval)
                {
                    Region = options.Region, Time = options.Time,
                },
                loggerFactory.CreateLogger("Quiver.Models"), auditLog);
            await lifecycle.StartAsync(cancellationToken);
            return (lifecycle, auditLog);
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    private static async Task StopLifecycleAsync(ModelLifecycle lifecycle)
    {
        await lifecycle.DisposeAsync();
        lifecycle.Catalog.Dispose();
        await lifecycle.Registry.DisposeAsync();
    }

    private static ListenOptions Listen(KestrelServerOptions kestrel, string host, int port, HttpProtocols protocols,
        Action<HttpsConnectionAdapterOptions>? https)
    {
        ListenOptions? listener = null;
        void Configure(ListenOptions options)
        {
            options.Protocols = protocols;
            if (https is not null)
            {
                options.UseHttps(https);
            }

            listener = options;
        }

        if (host == "localhost")
        {
            kestrel.ListenLocalhost(port, Configure);
        }
        else
        {
            kestrel.Listen(IPAddress.Parse(host), port, Configure);
        }

        return listener!;
    }

    // Kestrel writes the port it actually bound (for port 0) back into the listen options.
    private static Uri AddressOf(ListenOptions listener, bool tls) =>
        new($"{(tls ? "https" : "http")}://{(listener.EndPoint is IPEndPoint ip ? ip.ToString() : "localhost:" + listener.IPEndPoint?.Port)}");

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "ONNX Runtime {Version} loaded from {Path} (providers: {Providers})")]
        public static partial void RuntimeLoaded(ILogger logger, string version, string path, string providers);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Quiver listening on {Address} (HTTP) and {GrpcAddress} (gRPC), serving the registry {Registry}")]
        public static partial void Listening(ILogger logger, string address, string grpcAddress, string registry);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Dashboard at {Address}")]
        public static partial void Dashboard(ILogger logger, string address);

        [LoggerMessage(EventId = 661, Level = LogLevel.Information, Message = "Request limits in force: {Limits}")]
        public static partial void LimitsInForce(ILogger logger, string limits);

        [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Authentication {Mode}")]
        public static partial void Authentication(ILogger logger, string mode);
    }
}

/// <summary>The server could not start; <see cref="Exception.Message"/> lists every reason.</summary>
public sealed class ServerStartException(IReadOnlyList<string> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
