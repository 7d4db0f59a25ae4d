using System.CommandLine;
using Quiver.Server;
using Quiver.Server.Security;

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
            Description = "Address to listen on. A non-loopback address needs --auth (or, behind a network that controls access, --allow-unauthenticated).",
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
        var batchOutputRoot = new Option<string?>("--batch-output-root")
        {
            Description = "The only folder server-side batch jobs may name as their output location (default: batch/outputs in --data-dir).",
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
        var region = new Option<string?>("--region")
        {
            Description = "This server's region (e.g. eu-west-1) for data residency: versions pushed with --regions that do not name it are refused here.",
        };
        var auditKeyFile = new Option<string?>("--audit-key-file")
        {
            Description = "Key the audit log's anchors are HMACed with (default: audit.key in --data-dir, created on first use); replicas sharing a registry need the same file.",
        };
        var auditAnchorInterval = new Option<int>("--audit-anchor-interval")
        {
            Description = "Audit log entries between automatic HMAC anchors; quiver audit verify must be given the same.",
            DefaultValueFactory = _ => defaults.AuditAnchorInterval,
        };
        var auditVerifyMinutes = new Option<double>("--audit-verify-minutes")
        {
            Description = "How often the server re-verifies the whole audit chain for the quiver_audit_chain_valid metric.",
            DefaultValueFactory = _ => defaults.AuditVerifyInterval.TotalMinutes,
        };
        var allowUnauthenticated = new Option<bool>("--allow-unauthenticated")
        {
            Description = "Allow a non-loopback --host without authentication (only behind a network that controls access).",
        };
        var auth = new Option<bool>("--auth")
        {
            Description = "Require authentication on every port: API keys from the registry (quiver keys create), roles by the policy table.",
        };
        var openHealth = new Option<bool>("--open-health")
        {
            Description = "With --auth, let the health endpoints (/v2/health/*, gRPC ServerLive/ServerReady) answer without credentials, for probes.",
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

        // --- JWT / OIDC and mTLS ---
        var jwtJwks = new Option<string?>("--jwt-jwks")
        {
            Description = "Accept bearer JWTs signed by the keys of this JWKS: a file, or the identity provider's https jwks_uri. Needs --jwt-issuer and --jwt-audience.",
        };
        var jwtIssuer = new Option<string?>("--jwt-issuer") { Description = "The exact 'iss' tokens must carry." };
        var jwtAudience = new Option<string?>("--jwt-audience") { Description = "The 'aud' tokens must be for (Quiver's client id or URL)." };
        var jwtNameClaim = new Option<string>("--jwt-name-claim")
        {
            Description = "Claim naming the caller in the audit log.",
            DefaultValueFactory = _ => new JwtOptions().NameClaim,
        };
        var jwtRoleClaim = new Option<string>("--jwt-role-claim")
        {
            Description = "Claim holding the caller's roles (an array, or a space-separated string).",
            DefaultValueFactory = _ => new JwtOptions().RoleClaim,
        };
        var jwtTenantClaim = new Option<string?>("--jwt-tenant-claim")
        {
            Description = "Claim holding the caller's tenant; tokens without it are refused. Without this flag JWT callers see every tenant.",
        };
        var jwtRoleMap = new Option<string[]>("--jwt-role-map")
        {
            Description = "CLAIM-VALUE=ROLE (repeatable): map an identity provider's group or role to admin, deployer, predictor or viewer. " +
                "Without it the values admin, deployer, predictor and viewer map to themselves.",
        };
        var jwtClockSkew = new Option<int>("--jwt-clock-skew")
        {
            Description = "Seconds of clock difference tolerated on a token's exp and nbf (0-600).",
            DefaultValueFactory = _ => (int)new JwtOptions().ClockSkew.TotalSeconds,
        };
        var tlsClientCert = new Option<string>("--tls-client-cert")
        {
            Description = "Client certificates (mTLS): none, optional (a bad one presented gets 401) or required (the TLS handshake fails without a good one).",
            DefaultValueFactory = _ => "none",
        };
        tlsClientCert.AcceptOnlyFromAmong("none", "optional", "required");
        var tlsClientCa = new Option<string?>("--tls-client-ca")
        {
            Description = "PEM bundle of the CAs that issue client certificates; only these are trusted, not the system's.",
        };
        var mtlsPrincipals = new Option<string?>("--mtls-principals")
        {
            Description = "JSON file mapping client certificate subjects (CN or SAN) to a name, roles and tenant (see docs/security.md).",
        };
        Option[] jwtAndMtls = [jwtJwks, jwtIssuer, jwtAudience, jwtNameClaim, jwtRoleClaim, jwtTenantClaim, jwtRoleMap, jwtClockSkew,
            tlsClientCert, tlsClientCa, mtlsPrincipals];
        // --- end JWT / OIDC and mTLS ---

        var command = new Command("serve", "Serve the registry's models (the repository imported into it) over KServe v2 REST and gRPC.")
        {
            repository, host, httpPort, grpcPort, metricsPort, tlsCert, tlsKey, dataDir, registry, masterKeyFile, replicaName, repositoryPoll,
            maxRequestBytes, cacheBytes, otlpEndpoint, logFormat, driftWebhook, allowUnauthenticated, batchOutputRoot, auth, openHealth,
            limitsFile, maxJsonDepth, maxJsonElements, headersTimeout, minBodyRate, maxHeaderBytes, maxHeaders,
            region, auditKeyFile, auditAnchorInterval, auditVerifyMinutes,
        };
        foreach (Option option in jwtAndMtls)
        {
            command.Options.Add(option);
        }

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
                BatchOutputRoot = result.GetValue(batchOutputRoot),
                Registry = result.GetValue(registry),
                MasterKeyFile = result.GetValue(masterKeyFile),
                ReplicaName = result.GetValue(replicaName)!,
                RepositoryPollInterval = TimeSpan.FromSeconds(Math.Max(0, result.GetValue(repositoryPoll))),
                MaxRequestBodyBytes = result.GetValue(maxRequestBytes),
                CacheBytes = result.GetValue(cacheBytes),
                JsonLogs = result.GetValue(logFormat) == "json",
                OtlpEndpoint = result.GetValue(otlpEndpoint),
                AllowUnauthenticatedRemote = result.GetValue(allowUnauthenticated),
                RequireAuthentication = result.GetValue(auth),
                OpenHealth = result.GetValue(openHealth),
                DriftWebhook = result.GetValue(driftWebhook),
                LimitsFile = result.GetValue(limitsFile),
                MaxJsonDepth = result.GetValue(maxJsonDepth),
                MaxJsonElements = result.GetValue(maxJsonElements),
                RequestHeadersTimeout = TimeSpan.FromSeconds(result.GetValue(headersTimeout)),
                MinRequestBodyBytesPerSecond = result.GetValue(minBodyRate),
                MaxRequestHeaderBytes = result.GetValue(maxHeaderBytes),
                MaxRequestHeaderCount = result.GetValue(maxHeaders),
                Region = result.GetValue(region),
                AuditKeyFile = result.GetValue(auditKeyFile),
                AuditAnchorInterval = result.GetValue(auditAnchorInterval),
                AuditVerifyInterval = TimeSpan.FromMinutes(Math.Max(0, result.GetValue(auditVerifyMinutes))),
                // Any --jwt-* value turns JWT on, so a partial configuration is reported rather than ignored.
                Jwt = result.GetValue(jwtJwks) is null && result.GetValue(jwtIssuer) is null && result.GetValue(jwtAudience) is null
                    && result.GetValue(jwtTenantClaim) is null && result.GetValue(jwtRoleMap) is not { Length: > 0 }
                    ? null
                    : new JwtOptions
                    {
                        Jwks = result.GetValue(jwtJwks),
                        Issuer = result.GetValue(jwtIssuer),
                        Audience = result.GetValue(jwtAudience),
                        NameClaim = result.GetValue(jwtNameClaim)!,
                        RoleClaim = result.GetValue(jwtRoleClaim)!,
                        TenantClaim = result.GetValue(jwtTenantClaim),
                        RoleMap = ParseRoleMap(result.GetValue(jwtRoleMap)),
                        ClockSkew = TimeSpan.FromSeconds(result.GetValue(jwtClockSkew)),
                    },
                ClientCertificates = new ClientCertificateOptions
                {
                    Mode = Enum.Parse<ClientCertificateRequirement>(result.GetValue(tlsClientCert)!, ignoreCase: true),
                    CaBundlePath = result.GetValue(tlsClientCa),
                    PrincipalsPath = result.GetValue(mtlsPrincipals),
                },
            };
            return await RunAsync(options, cancellationToken);
        });
        return command;
    }

    // "group=role" entries; one without '=' is kept with an empty role so validation names it with the others.
    private static Dictionary<string, string>? ParseRoleMap(string[]? entries)
    {
        if (entries is not { Length: > 0 })
        {
            return null;
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string entry in entries)
        {
            int equals = entry.LastIndexOf('=');
            map[equals < 0 ? entry : entry[..equals]] = equals < 0 ? "" : entry[(equals + 1)..];
        }

        return map;
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
