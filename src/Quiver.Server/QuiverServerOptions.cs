using System.Net;
using Quiver.Server.Rest;
using Quiver.Server.Security;

namespace Quiver.Server;

/// <summary>Server settings, bound from the command line in one place and validated at start.</summary>
public sealed record QuiverServerOptions
{
    /// <summary>
    /// The model repository imported into the registry at start and watched for new version folders. Defaults to
    /// examples/models, relative to the working directory; empty for none (a replica serving only the registry).
    /// </summary>
    public string ModelRepository { get; init; } = Path.Combine("examples", "models");

    /// <summary>
    /// The registry: a SQLite file, or <c>postgres://user:password@host:port/database</c> shared by replicas.
    /// Defaults to registry.db in <see cref="DataDirectory"/>.
    /// </summary>
    public string? Registry { get; init; }

    /// <summary>
    /// A master key file (32 raw bytes or base64) that turns on encryption of model artifacts at rest. Without it the
    /// QUIVER_MASTER_KEY environment variable is used when set; with neither, artifacts are stored in plaintext.
    /// </summary>
    public string? MasterKeyFile { get; init; }

    /// <summary>This server's name in per-replica version states. Defaults to the host name (a Kubernetes pod's name).</summary>
    public string ReplicaName { get; init; } = Environment.MachineName;

    /// <summary>How often the repository folder is scanned for new versions; zero turns scanning off. Defaults to 5 s.</summary>
    public TimeSpan RepositoryPollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A URL that receives a JSON event whenever a model version's drift state changes; null for none.</summary>
    public string? DriftWebhook { get; init; }

    /// <summary>How often drift states are checked for the webhook. Defaults to 10 s.</summary>
    public TimeSpan DriftCheckInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The clock experiment requests are remembered by, for their feedback. Defaults to the system's; tests pass a fake.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>How often the canary controller checks the rollouts this server owns. Defaults to 1 s.</summary>
    public TimeSpan RolloutCheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A payload log file larger than this is rotated. Defaults to 64 MiB; five rotated files are kept per model.</summary>
    public long PayloadLogMaxFileBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>How often the registry is polled for changes (PostgreSQL also notifies at once). Defaults to 2 s.</summary>
    public TimeSpan RegistryPollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The address to listen on. Defaults to loopback only.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The HTTP port. Defaults to 8000, Triton's, so existing tools find it; 0 picks a free port.</summary>
    public int HttpPort { get; init; } = 8000;

    /// <summary>The gRPC port (HTTP/2 cleartext). Defaults to 8001, Triton's; 0 picks a free port.</summary>
    public int GrpcPort { get; init; } = 8001;

    /// <summary>The Prometheus metrics port (<c>/metrics</c>). Defaults to 8002, Triton's; 0 picks a free port.</summary>
    public int MetricsPort { get; init; } = 8002;

    /// <summary>PEM certificate for TLS on both ports; null (the default) serves cleartext. Needs <see cref="TlsKeyPath"/>.</summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>PEM private key of <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsKeyPath { get; init; }

    // --- JWT / OIDC bearer tokens and mTLS client certificates (see docs/security.md) ---

    /// <summary>Bearer JWT validation (<c>--jwt-*</c>); null (the default) when no identity provider is configured.</summary>
    public JwtOptions? Jwt { get; init; }

    /// <summary>Client certificates on the TLS ports (<c>--tls-client-cert</c>, <c>--tls-client-ca</c>, <c>--mtls-principals</c>). Defaults to none asked for.</summary>
    public ClientCertificateOptions ClientCertificates { get; init; } = new();

    /// <summary>Bytes of model outputs the result cache may hold, for models with response_cache on; 0 turns it off. Defaults to 64 MiB.</summary>
    public long CacheBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// Where to export traces over OTLP/HTTP (e.g. http://collector:4318); null (the default) exports none
    /// unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
    /// </summary>
    public string? OtlpEndpoint { get; init; } = Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT");

    /// <summary>How long spans wait to be exported together, in milliseconds. Defaults to 5000, OpenTelemetry's default.</summary>
    public int OtlpExportDelayMilliseconds { get; init; } = 5000;

    /// <summary>Logs as one JSON object per line (for log shippers) instead of human-readable lines. Defaults to false.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>
    /// The key file the audit log's anchors are MACed with; created (32 random bytes) on first use when missing.
    /// Defaults to audit.key in <see cref="DataDirectory"/>. Replicas sharing a registry must share this file.
    /// </summary>
    public string? AuditKeyFile { get; init; }

    /// <summary>Entries between automatic audit anchors. Defaults to 100; every replica and <c>quiver audit verify</c> must agree.</summary>
    public int AuditAnchorInterval { get; init; } = Core.Security.Audit.AuditLog.DefaultAnchorInterval;

    /// <summary>How often the server verifies the whole audit chain for <c>quiver_audit_chain_valid</c>. Defaults to 5 min.</summary>
    public TimeSpan AuditVerifyInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The region this server runs in (e.g. eu-west-1), checked against each version's allowed regions (data
    /// residency). Null: no region, so versions restricted to regions are refused.
    /// </summary>
    public string? Region { get; init; }

    /// <summary>Where Quiver keeps its state. Defaults to ./.quiver.</summary>
    public string DataDirectory { get; init; } = ".quiver";

    /// <summary>
    /// The only folder under which a server-side batch job may be given its own output location. Defaults to
    /// DATA_DIR/batch/outputs: not the data directory itself, whose registry and keys a job must never overwrite.
    /// </summary>
    public string? BatchOutputRoot { get; init; }

    /// <summary>The largest request body accepted, in bytes; larger ones get 413. Defaults to 64 MiB.</summary>
    public long MaxRequestBodyBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Deepest nesting of a JSON inference request; deeper gets 400. Defaults to 32 (a rank-8 nested tensor needs 11).</summary>
    public int MaxJsonDepth { get; init; } = JsonRequestLimits.Default.MaxDepth;

    /// <summary>
    /// Most JSON values (tensor elements, inputs, outputs, parameters) in one JSON inference request; more gets 400.
    /// Defaults to 8 Mi, which decode to at most 64 MiB (the default body limit) at 8 bytes each.
    /// </summary>
    public long MaxJsonElements { get; init; } = JsonRequestLimits.Default.MaxElements;

    /// <summary>The REST decoder's limits, from <see cref="MaxJsonDepth"/> and <see cref="MaxJsonElements"/>.</summary>
    public JsonRequestLimits JsonLimits => new(MaxJsonDepth, MaxJsonElements);

    /// <summary>
    /// How long a client may take to send a request's headers before the connection is closed (slow-loris clients).
    /// Defaults to 10 s: Kestrel's 30 s is generous for a service whose clients are programs on a fast network.
    /// </summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Slowest request body upload accepted, in bytes per second after a 5 s grace period; slower is cut off.
    /// Defaults to 240, Kestrel's; 0 turns the check off. Streaming gRPC calls are exempt: they idle between messages.
    /// </summary>
    public double MinRequestBodyBytesPerSecond { get; init; } = 240;

    /// <summary>Largest total size of a request's headers; larger gets 431. Defaults to 32 KiB, Kestrel's.</summary>
    public int MaxRequestHeaderBytes { get; init; } = 32 * 1024;

    /// <summary>Most headers in one request; more gets 431. Defaults to 100, Kestrel's.</summary>
    public int MaxRequestHeaderCount { get; init; } = 100;

    /// <summary>
    /// A JSON file of rate and concurrency limits per principal and tenant (see docs/security.md, "Limits"); null (the
    /// default) limits nothing. <see cref="Limits"/> set directly wins over the file.
    /// </summary>
    public string? LimitsFile { get; init; }

    /// <summary>Rate and concurrency limits given in code; null reads <see cref="LimitsFile"/>.</summary>
    public Security.RequestLimits? Limits { get; init; }

    /// <summary>The clock of the rate limits; tests give a manual one. Defaults to the system clock.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>The limits in force: <see cref="Limits"/>, else those of <see cref="LimitsFile"/>, else none. Throws <see cref="FormatException"/> or <see cref="IOException"/>.</summary>
    public Security.RequestLimits ResolveLimits() =>
        Limits ?? (LimitsFile is { } file ? Security.RequestLimits.Parse(File.ReadAllText(file)) : Security.RequestLimits.None);

    /// <summary>
    /// Whether a non-loopback address may be bound with no authentication. Defaults to false: secure by default.
    /// </summary>
    public bool AllowUnauthenticatedRemote { get; init; }

    /// <summary>
    /// Whether every request must authenticate (API keys from the registry, created with <c>quiver keys create</c>) and
    /// be authorized by the policy table. Defaults to false: on loopback without it, every caller acts as anonymous
    /// with every role.
    /// </summary>
    public bool RequireAuthentication { get; init; }

    /// <summary>Whether the health endpoints (REST and gRPC) answer without credentials, for probes. Defaults to false.</summary>
    public bool OpenHealth { get; init; }

    /// <summary>True when requests must authenticate (--auth); JWTs and client certificates are then accepted when configured.</summary>
    public bool AuthenticationConfigured => RequireAuthentication;

    /// <summary>Every problem with these options, so they can be reported together.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (HttpPort is < 0 or > 65535)
        {
            errors.Add($"--http-port must be between 0 and 65535, got {HttpPort}.");
        }

        if (GrpcPort is < 0 or > 65535)
        {
            errors.Add($"--grpc-port must be between 0 and 65535, got {GrpcPort}.");
        }
        else if (GrpcPort == HttpPort && GrpcPort != 0)
        {
            errors.Add($"--grpc-port and --http-port must differ, both are {GrpcPort}.");
        }

        if (MetricsPort is < 0 or > 65535)
        {
            errors.Add($"--metrics-port must be between 0 and 65535, got {MetricsPort}.");
        }
        else if (MetricsPort != 0 && (MetricsPort == HttpPort || MetricsPort == GrpcPort))
        {
            errors.Add($"--metrics-port must differ from --http-port and --grpc-port, got {MetricsPort}.");
        }

        if (OtlpEndpoint is not null && !Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out _))
        {
            errors.Add($"--otlp-endpoint must be an absolute URL such as http://collector:4318, got '{OtlpEndpoint}'.");
        }

        if (DriftWebhook is not null && !(Uri.TryCreate(DriftWebhook, UriKind.Absolute, out Uri? webhook) && webhook.Scheme is "http" or "https"))
        {
            errors.Add($"--drift-webhook must be an absolute http(s) URL, got '{DriftWebhook}'.");
        }

        if (CacheBytes < 0)
        {
            errors.Add($"--cache-bytes must be 0 (off) or more, got {CacheBytes}.");
        }

        if (MaxRequestBodyBytes is < 1024 or > int.MaxValue)
        {
            errors.Add($"--max-request-bytes must be between 1024 and {int.MaxValue}, got {MaxRequestBodyBytes}.");
        }

        if (MaxJsonDepth is < 4 or > 1000)
        {
            errors.Add($"--max-json-depth must be between 4 and 1000, got {MaxJsonDepth}.");
        }

        if (MaxJsonElements < 16)
        {
            errors.Add($"--max-json-elements must be 16 or more, got {MaxJsonElements}.");
        }

        if (RequestHeadersTimeout <= TimeSpan.Zero)
        {
            errors.Add($"--request-headers-timeout-seconds must be positive, got {RequestHeadersTimeout.TotalSeconds}.");
        }

        if (MinRequestBodyBytesPerSecond < 0 || !double.IsFinite(MinRequestBodyBytesPerSecond))
        {
            errors.Add($"--min-request-body-rate must be 0 (off) or a positive number of bytes per second, got {MinRequestBodyBytesPerSecond}.");
        }

        if (MaxRequestHeaderBytes < 1024)
        {
            errors.Add($"--max-request-header-bytes must be 1024 or more, got {MaxRequestHeaderBytes}.");
        }

        if (MaxRequestHeaderCount < 8)
        {
            errors.Add($"--max-request-headers must be 8 or more, got {MaxRequestHeaderCount}.");
        }

        if (Limits is null && LimitsFile is not null)
        {
            try
            {
                ResolveLimits();
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"--limits-file '{LimitsFile}': {e.Message}");
            }
        }

        if (Host != "localhost" && !IPAddress.TryParse(Host, out _))
        {
            errors.Add($"--host must be an IP address or 'localhost', got '{Host}'.");
        }
        else if (!IsLoopback && !AuthenticationConfigured && !AllowUnauthenticatedRemote)
        {
            errors.Add($"--host {Host} is not a loopback address, and no authentication is configured: " +
                "anyone on the network could call the models. Pass --auth and create API keys with 'quiver keys create " +
                "--name NAME --role predictor' (see docs/security.md), bind 127.0.0.1, or pass --allow-unauthenticated " +
                "if the network in front of Quiver already controls access.");
        }

        if (OpenHealth && !AuthenticationConfigured)
        {
            errors.Add("--open-health only matters with authentication on (--auth): without it every endpoint is open already.");
        }

        if ((TlsCertificatePath is null) != (TlsKeyPath is null))
        {
            errors.Add("--tls-cert and --tls-key go together: give both PEM files, or neither for cleartext.");
        }

        foreach (string? file in new[] { TlsCertificatePath, TlsKeyPath })
        {
            if (file is not null && !File.Exists(file))
            {
                errors.Add($"TLS file '{file}' does not exist.");
            }
        }

        Jwt?.Validate(errors);
        ClientCertificates.Validate(errors, tls: TlsCertificatePath is not null);

        if (MasterKeyFile is not null && !File.Exists(MasterKeyFile))
        {
            errors.Add($"master key file '{MasterKeyFile}' does not exist; create one with 'quiver keys generate --output {MasterKeyFile}'.");
        }

        if (AuditAnchorInterval < 1)
        {
            errors.Add($"--audit-anchor-interval must be 1 or more entries, got {AuditAnchorInterval}.");
        }

        if (AuditVerifyInterval <= TimeSpan.Zero)
        {
            errors.Add($"--audit-verify-interval must be positive, got {AuditVerifyInterval}.");
        }

        if (Region is not null && Core.Lifecycle.DataResidency.CheckRegion(Region) is { } badRegion)
        {
            errors.Add($"--region: {badRegion}");
        }

        if (RepositoryPollInterval < TimeSpan.Zero || RegistryPollInterval <= TimeSpan.Zero)
        {
            errors.Add("poll intervals must be positive (the repository's may be zero to turn scanning off).");
        }

        return errors;
    }

    /// <summary>True when <see cref="Host"/> is reachable only from this machine.</summary>
    public bool IsLoopback => Host == "localhost" || (IPAddress.TryParse(Host, out IPAddress? address) && IPAddress.IsLoopback(address));
}
