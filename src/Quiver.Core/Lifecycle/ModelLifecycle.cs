using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Security;
using Quiver.Core.Storage;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Lifecycle;

/// <summary>How the lifecycle follows the registry and the repository.</summary>
/// <param name="Replica">This server's name in per-replica states.</param>
/// <param name="RegistryPollInterval">How often the registry's revision is polled (PostgreSQL also notifies at once).</param>
/// <param name="RepositoryPollInterval">How often the repository folder is scanned for new versions; zero turns it off.</param>
public sealed record LifecycleSettings(string Replica, TimeSpan RegistryPollInterval, TimeSpan RepositoryPollInterval)
{
    /// <summary>This server's region for data residency; null for none (versions restricted to regions are refused).</summary>
    public string? Region { get; init; }

    /// <summary>The clock of the endpoints' experiment ledger. Defaults to the system's.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// Makes this server serve what the registry says: the versions each model's version policy picks plus every alias
/// target, loaded and warmed up off the request path and then published at once (hot swap). A version that fails to
/// load leaves the previous load serving and records why, in the registry (state and per replica) and in the catalog.
/// Follows registry changes (another replica's promote, a push) and new repository folders on its own.
/// </summary>
public sealed partial class ModelLifecycle : IAsyncDisposable
{
    private readonly IModelRegistry _registry;
    private readonly ArtifactVault _vault;
    private readonly OnnxRuntime _runtime;
    private readonly RepositoryImporter? _importer;
    private readonly LifecycleSettings _settings;
    private readonly ILogger _logger;
    private readonly IAuditSink? _audit;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    // A load request's configuration override per model, parsed and as sent (the text tells loads apart).
    private readonly ConcurrentDictionary<string, (TritonModelConfig Config, string Json)> _overrides = new();
    private readonly ConcurrentDictionary<string, bool> _unloaded = new();
    private readonly Dictionary<(string, long), (VersionState, string?)> _reported = [];
    private readonly Dictionary<(string, long), string> _failedLoads = [];
    private Task _background = Task.CompletedTask;

    public ModelLifecycle(IModelRegistry registry, ArtifactVault vault, ModelCatalog catalog, OnnxRuntime runtime,
        RepositoryImporter? importer, LifecycleSettings settings, ILogger logger, IAuditSink? audit = null)
    {
        _audit = audit;
        Endpoints = new Routing.EndpointTable(settings.Time);
        _registry = registry;
        _vault = vault;
        _runtime = runtime;
        _importer = importer;
        _settings = settings;
        _logger = logger;
        Catalog = catalog;
        Publisher = new ModelPublisher(registry, vault, runtime);
    }

    /// <summary>What this server serves.</summary>
    public ModelCatalog Catalog { get; }

    /// <summary>The registry followed.</summary>
    public IModelRegistry Registry => _registry;

    /// <summary>Registers pushed versions.</summary>
    public ModelPublisher Publisher { get; }

    /// <summary>The endpoints this server routes, as the registry defines them.</summary>
    public Routing.EndpointTable Endpoints { get; }

    /// <summary>This server's replica name.</summary>
    public string Replica => _settings.Replica;

    /// <summary>Imports the repository, loads what the registry says, then follows both in the background.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Before anything is pushed: the temporary files of an upload a crash cut short are nobody's.
        if (_vault.RemoveAbandonedUploads() is > 0 and int removed)
        {
            Log.AbandonedUploadsRemoved(_logger, removed, _vault.Root);
        }

        long revision = await _registry.GetRevisionAsync(cancellationToken);
        if (_importer is not null)
        {
            await _importer.ImportAsync(null, cancellationToken);
        }

        await ReconcileAsync(null, cancellationToken);
        _background = Task.WhenAll(FollowRegistryAsync(revision, _stopping.Token), PollRepositoryAsync(_stopping.Token));
    }

    /// <summary>
    /// Brings one model (or all) in line with the registry now. Registry outages are logged and leave serving as it
    /// is; the result is false then, so a caller following the registry tries again.
    /// </summary>
    public async Task<bool> ReconcileAsync(string? model, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            // Repository folders that failed to register have no registry record but are shown as failed.
            IEnumerable<string> names = model is not null
                ? [model]
                : (await _registry.GetModelsAsync(cancellationToken)).Select(m => m.Name).Union(_importer?.ModelsWithFailures ?? []);
            foreach (string name in names)
            {
                await ReconcileModelAsync(name, cancellationToken);
            }

            if (model is null)
            {
                await RefreshEndpointsAsync(cancellationToken);
            }

            return true;
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.Unavailable)
        {
            Log.RegistryUnavailable(_logger, e.Message);
            return false;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Reads the endpoint definitions again; one that no longer parses is skipped and logged.</summary>
    public async Task RefreshEndpointsAsync(CancellationToken cancellationToken)
    {
        var splits = new Dictionary<string, Routing.ServingEndpoint>(StringComparer.Ordinal);
        foreach ((string name, string definition) in await _registry.GetEndpointsAsync(cancellationToken))
        {
            try
            {
                splits[name] = Routing.EndpointDefinition.Parse(name, definition);
            }
            catch (ArgumentException e)
            {
                Log.EndpointUnusable(_logger, name, e.Message);
            }
        }

        // A model's running or paused canary rollout splits its unversioned requests between baseline and candidate.
        foreach ((string model, string state) in await _registry.GetRolloutsAsync(cancellationToken))
        {
            Routing.Rollout rollout = Routing.Rollout.Parse(state);
            if (rollout.Routes)
            {
                splits[model] = rollout.ToEndpoint();
            }
        }

        Endpoints.Replace(splits);
    }

    /// <summary>What loading a model that is neither registered nor in the repository says (also another tenant's model).</summary>
    public string UnknownForLoadMessage(string name) =>
        $"model '{name}' is neither in the registry nor a folder of the repository {_importer?.Root ?? "(none configured)"}.";

    /// <summary>What unloading a model this server does not serve says (also another tenant's model).</summary>
    public static string UnknownForUnloadMessage(string name) => $"model '{name}' is not in the repository.";

    /// <summary>
    /// The repository extension's load: registers the model folder's new versions and config changes, applies
    /// <paramref name="configOverride"/> (Triton's JSON model configuration, replacing the config files on this server)
    /// and loads it again. Null when a version serves the new state.
    /// </summary>
    public async Task<InferenceError?> LoadAsync(string name, string? configOverride, CancellationToken cancellationToken)
    {
        try
        {
            return await LoadOrFailAsync(name, configOverride, cancellationToken);
        }
        catch (RegistryException e)
        {
            return new InferenceError(e.Kind == RegistryErrorKind.Unavailable ? ErrorKind.Unavailable : ErrorKind.InvalidArgument, e.Message);
        }
    }

    private async Task<InferenceError?> LoadOrFailAsync(string name, string? configOverride, CancellationToken cancellationToken)
    {
        TritonModelConfig? overrideConfig = null;
        if (configOverride is not null)
        {
            try
            {
                overrideConfig = TritonModelConfig.ParseJson(configOverride);
            }
            catch (ModelConfigException e)
            {
                return new InferenceError(ErrorKind.InvalidArgument, $"the config parameter for model '{name}' is not a valid model configuration: {e.Message}");
            }
        }

        bool inRegistry = (await _registry.GetModelsAsync(cancellationToken)).Any(m => m.Name == name);
        if (!inRegistry && _importer?.FolderOf(name) is null)
        {
            return new InferenceError(ErrorKind.NotFound, UnknownForLoadMessage(name));
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_importer is not null)
            {
                await _importer.ImportAsync(name, cancellationToken);
            }

            _unloaded.TryRemove(name, out _);
            if (overrideConfig is null)
            {
                _overrides.TryRemove(name, out _);
            }
            else
            {
                _overrides[name] = (overrideConfig, configOverride!);
            }

            // An explicit load reloads, as Triton's does: versions that failed are tried again, ready ones are replaced.
            await ReconcileModelAsync(name, cancellationToken, reload: true);
        }
        finally
        {
            _gate.Release();
        }

        ModelVersionStatus[] versions = Catalog.Models.GetValueOrDefault(name) ?? [];
        ModelVersionStatus[] failed = versions.Where(v => v.State != ModelState.Ready || v.Reason is not null).ToArray();
        bool anyReady = versions.Any(v => v.State == ModelState.Ready);
        return anyReady && failed.Length == 0
            ? null
            : new InferenceError(ErrorKind.InvalidArgument,
                $"model '{name}' failed to load: {string.Join("; ", failed.Select(v => $"version {v.Version}: {v.Reason}").DefaultIfEmpty("no version registered"))}" +
                (anyReady ? "; the previously loaded versions keep serving" : ""));
    }

    /// <summary>The repository extension's unload: this server stops serving the model until it is loaded again.</summary>
    public async Task<InferenceError?> UnloadAsync(string name, CancellationToken cancellationToken)
    {
        if (!Catalog.Models.ContainsKey(name))
        {
            return new InferenceError(ErrorKind.NotFound, UnknownForUnloadMessage(name));
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            // Unloading needs nothing from the registry: this server just stops serving the model.
            _unloaded[name] = true;
            await ReconcileModelAsync(name, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await _background;
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
        _gate.Dispose();
    }

    private async Task ReconcileModelAsync(string name, CancellationToken cancellationToken, bool reload = false)
    {
        ModelVersionStatus[] current = Catalog.Models.GetValueOrDefault(name) ?? [];
        IReadOnlyDictionary<long, string> importFailures = _importer?.FailuresOf(name) ?? new Dictionary<long, string>();
        if (_unloaded.ContainsKey(name))
        {
            Catalog.Publish(name, current.Select(v => v with { State = ModelState.Unloaded, Reason = "unloaded", Model = null, LoadKey = null }).ToArray(),
                new Dictionary<string, long>());
            return;
        }

        IReadOnlyList<RegisteredVersion> registered = (await _registry.GetModelsAsync(cancellationToken)).Any(m => m.Name == name)
            ? await _registry.GetVersionsAsync(name, cancellationToken)
            : [];
        IReadOnlyDictionary<string, long> aliases = registered.Count > 0
            ? await _registry.GetAliasesAsync(name, cancellationToken)
            : new Dictionary<string, long>();
        RegisteredVersion[] live = registered.Where(v => v.State != VersionState.Retired).ToArray();
        _overrides.TryGetValue(name, out var overridden);
        TritonModelConfig? overrideConfig = overridden.Config;

        TritonVersionPolicy? policy = PolicyOf(live.LastOrDefault(), overrideConfig);
        long[] chosen = policy?.Select(live.Select(v => v.Version)) ?? live.Select(v => v.Version).ToArray();
        var wanted = new HashSet<long>(chosen.Concat(aliases.Values));

        var statuses = new List<ModelVersionStatus>();
        foreach (RegisteredVersion version in live.Where(v => wanted.Contains(v.Version)))
        {
            ModelVersionStatus status = await EnsureLoadedAsync(version, current, overrideConfig, overridden.Json, reload, cancellationToken);
            if (importFailures.TryGetValue(version.Version, out string? importFailure) && status.State == ModelState.Ready)
            {
                status = status with { Reason = importFailure };
            }

            statuses.Add(status);
        }

        // Folders that could not be registered, and versions a specific policy names that do not exist, show as failed.
        foreach ((long version, string reason) in importFailures.Where(f => registered.All(v => v.Version != f.Key)))
        {
            statuses.Add(new ModelVersionStatus(name, version, ModelState.Failed, reason, null));
        }

        if (policy?.Kind == TritonVersionPolicyKind.Specific)
        {
            foreach (long missing in policy.Versions.Distinct().Where(v => statuses.All(s => s.Version != v)))
            {
                statuses.Add(new ModelVersionStatus(name, missing, ModelState.Failed,
                    $"version_policy names version {missing}, but the model has no version {missing}.", null));
            }
        }

        statuses.Sort((a, b) => a.Version.CompareTo(b.Version));
        if (statuses.Count > 0 || current.Length > 0)
        {
            Catalog.Publish(name, statuses.ToArray(), EffectiveAliases(name, aliases, statuses));
        }
    }

    // config.pbtxt's or config.json's version_policy, from the newest version's configuration; null loads all.
    private TritonVersionPolicy? PolicyOf(RegisteredVersion? newest, TritonModelConfig? overrideConfig)
    {
        if (newest is null)
        {
            return null;
        }

        try
        {
            ResolvedModelConfig resolved = ModelBundle.Parse(newest.ConfigJson).Resolve(overrideConfig);
            return resolved.Config.VersionPolicy;
        }
        catch (ModelConfigException)
        {
            return null; // Every version fails to load with this reason, which is shown then.
        }
    }

    private async Task<ModelVersionStatus> EnsureLoadedAsync(RegisteredVersion version, ModelVersionStatus[] current,
        TritonModelConfig? overrideConfig, string? overrideJson, bool reload, CancellationToken cancellationToken)
    {
        string loadKey = $"{version.Sha256}|{version.ConfigJson}|{overrideJson}";
        ModelVersionStatus? previous = Array.Find(current, c => c.Version == version.Version);
        if (previous?.LoadKey == loadKey && !reload)
        {
            return previous.Reason is not null && previous.State == ModelState.Ready && !previous.Reason.StartsWith("reload failed", StringComparison.Ordinal)
                ? previous with { Reason = null }
                : previous;
        }

        // A load that failed is not tried again for the same artifact and configuration until an explicit load.
        (string, long) key = (version.Model, version.Version);
        if (!reload && _failedLoads.GetValueOrDefault(key) == loadKey && previous is not null)
        {
            return previous;
        }

        if (DataResidency.Refusal(AllowedRegionsOf(version), _settings.Region) is { } refusal)
        {
            // This replica's refusal only: the version stays loadable where it is allowed.
            ModelVersionStatus refused = new ModelVersionStatus(version.Model, version.Version, ModelState.Failed, refusal, null) with { LoadKey = loadKey };
            _failedLoads[key] = loadKey;
            await ReportAsync(version, refused, cancellationToken, replicaOnly: true);
            Log.ResidencyRefused(_logger, version.Model, version.Version, refusal);
            await (_audit?.RecordAsync(new AuditEvent($"replica:{_settings.Replica}", "models.load", $"models/{version.Model}/versions/{version.Version}", "denied")
            {
                Details = Security.Audit.AuditDetails.ToJson(new Dictionary<string, object?>
                {
                    ["allowed_regions"] = AllowedRegionsOf(version), ["region"] = _settings.Region, ["reason"] = refusal,
                }),
            }, cancellationToken) ?? ValueTask.CompletedTask);
            return refused;
        }

        ModelVersionStatus loaded = await Task.Run(() => LoadAsync(version, overrideConfig, cancellationToken), cancellationToken);
        loaded = loaded with { LoadKey = loadKey };
        await ReportAsync(version, loaded, cancellationToken);
        if (loaded.State == ModelState.Ready)
        {
            _failedLoads.Remove(key);
            return loaded;
        }

        _failedLoads[key] = loadKey;
        return previous is { State: ModelState.Ready }
            ? previous with { Reason = $"reload failed, still serving the previous load: {loaded.Reason}" } // Load failures leave the previous load serving.
            : loaded;
    }

    private async Task<ModelVersionStatus> LoadAsync(RegisteredVersion version, TritonModelConfig? overrideConfig, CancellationToken cancellationToken)
    {
        ResolvedModelConfig resolved;
        byte[] artifact;
        try
        {
            resolved = ModelBundle.Parse(version.ConfigJson).Resolve(overrideConfig);
            ModelCatalog.LogConfigWarnings(_logger, version.Model, resolved.Triton);
            artifact = await _vault.ReadAsync(version, cancellationToken);
        }
        // An unreachable registry (fetching a replica's copy of the artifact) is not the version's fault: it propagates,
        // and the change is applied again once the registry answers, instead of marking the version failed.
        catch (Exception e) when (e is ModelConfigException or ArtifactException or RegistryException { Kind: not RegistryErrorKind.Unavailable } or IOException)
        {
            Log.VersionUnloadable(_logger, version.Model, version.Version, e.Message);
            return new ModelVersionStatus(version.Model, version.Version, ModelState.Failed, e.Message, null);
        }

        ModelVersionStatus status = ModelCatalog.LoadVersion(version.Model, version.Version, artifact, resolved, _runtime, _logger);
        if (status.Model?.Drift is { } drift && await _registry.GetDriftBaselineAsync(version.Model, version.Version, cancellationToken) is { } stored
            && Monitoring.Drift.DriftBaseline.ParseStored(stored, status.Model.DriftFeatures) is { Count: > 0 } baseline)
        {
            drift.SetBaseline(baseline);
        }

        return status;
    }

    // What the registry recorded at push, else the version's config.json as it is now (a repository folder edited since).
    private static IReadOnlyList<string>? AllowedRegionsOf(RegisteredVersion version)
    {
        if (version.AllowedRegions is not null)
        {
            return version.AllowedRegions;
        }

        try
        {
            return ModelBundle.Parse(version.ConfigJson).Resolve().Config.AllowedRegions;
        }
        catch (ModelConfigException)
        {
            return null; // The load fails on the same configuration with this reason.
        }
    }

    // This replica's outcome, and the version's registry state when it was not yet known (a failure elsewhere
    // does not undo a version another replica serves).
    private async Task ReportAsync(RegisteredVersion version, ModelVersionStatus status, CancellationToken cancellationToken, bool replicaOnly = false)
    {
        VersionState state = status.State == ModelState.Ready ? VersionState.Ready : VersionState.Failed;
        (string, long) key = (version.Model, version.Version);
        if (_reported.GetValueOrDefault(key) == (state, status.Reason))
        {
            return;
        }

        await _registry.ReportReplicaStateAsync(_settings.Replica, version.Model, version.Version, state, status.Reason, cancellationToken);
        if (!replicaOnly && version.State != state && (state == VersionState.Ready || version.State is VersionState.Registered or VersionState.Loading))
        {
            await _registry.SetStateAsync(version.Model, version.Version, state, status.Reason, cancellationToken);
        }

        _reported[key] = (state, status.Reason);
    }

    // An alias whose version is not ready here keeps pointing at the version it served before, so a failed load
    // never takes an alias's traffic down.
    private IReadOnlyDictionary<string, long> EffectiveAliases(string name, IReadOnlyDictionary<string, long> aliases, List<ModelVersionStatus> statuses)
    {
        IReadOnlyDictionary<string, long> before = Catalog.AliasesOf(name);
        var effective = new Dictionary<string, long>();
        foreach ((string alias, long version) in aliases)
        {
            bool ready = statuses.Any(s => s.Version == version && s.State == ModelState.Ready);
            effective[alias] = !ready && before.TryGetValue(alias, out long kept) && statuses.Any(s => s.Version == kept && s.State == ModelState.Ready)
                ? kept
                : version;
        }

        return effective;
    }

    private async Task FollowRegistryAsync(long revision, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (long next in _registry.WatchAsync(revision, _settings.RegistryPollInterval, cancellationToken))
                {
                    // A revision counts as followed only once applied; otherwise it is watched for again after a pause.
                    if (!await ReconcileAsync(null, cancellationToken))
                    {
                        break;
                    }

                    revision = next;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RegistryException or IOException or InvalidOperationException)
            {
                Log.FollowFailed(_logger, e.Message);
            }

            try
            {
                await Task.Delay(_settings.RegistryPollInterval, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PollRepositoryAsync(CancellationToken cancellationToken)
    {
        if (_importer is null || _settings.RepositoryPollInterval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(_settings.RepositoryPollInterval);
        while (await WaitAsync(timer, cancellationToken))
        {
            IReadOnlyList<string> changed;
            await _gate.WaitAsync(cancellationToken);
            try
            {
                changed = await _importer.ImportAsync(null, cancellationToken);
            }
            catch (Exception e) when (e is RegistryException or IOException or ArtifactException)
            {
                Log.RepositoryScanFailed(_logger, e.Message);
                continue;
            }
            finally
            {
                _gate.Release();
            }

            foreach (string model in changed)
            {
                await ReconcileAsync(model, cancellationToken);
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Registry unavailable, serving continues as loaded: {Error}")]
        public static partial void RegistryUnavailable(ILogger logger, string error);

        [LoggerMessage(EventId = 111, Level = LogLevel.Error, Message = "Model {Model} version {Version} cannot be loaded: {Reason}")]
        public static partial void VersionUnloadable(ILogger logger, string model, long version, string reason);

        [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "Following the registry failed, retrying: {Error}")]
        public static partial void FollowFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 114, Level = LogLevel.Error, Message = "Endpoint {Endpoint} is not routed: {Error}")]
        public static partial void EndpointUnusable(ILogger logger, string endpoint, string error);

        [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "Scanning the model repository failed: {Error}")]
        public static partial void RepositoryScanFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 643, Level = LogLevel.Warning, Message = "Model {Model} version {Version} is not loaded here: {Reason}")]
        public static partial void ResidencyRefused(ILogger logger, string model, long version, string reason);

        [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Removed {Count} temporary file(s) of uploads cut short by a crash from {Folder}")]
        public static partial void AbandonedUploadsRemoved(ILogger logger, int count, string folder);
    }
}
