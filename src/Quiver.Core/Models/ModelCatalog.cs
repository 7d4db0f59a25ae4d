using System.Globalization;
using Microsoft.Extensions.Logging;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Models;

/// <summary>
/// What this server serves: every model with its versions' states and loaded sessions, and its aliases. The
/// lifecycle (<see cref="Lifecycle.ModelLifecycle"/>) loads versions off the request path and publishes a model's
/// new state at once; readers take one consistent snapshot without locking.
/// </summary>
public sealed partial class ModelCatalog : IDisposable
{
    /// <summary>The alias a request without a version goes to, when the model has it.</summary>
    public const string DefaultAlias = "production";

    private readonly Lock _writeLock = new();

    // Copy-on-write: a reader takes the current snapshot once and sees one consistent state of every model.
    private volatile Snapshot _state = new(new SortedDictionary<string, ModelVersionStatus[]>(StringComparer.Ordinal), []);

    /// <summary>Every model name with its versions, in name order, versions ascending.</summary>
    public IReadOnlyDictionary<string, ModelVersionStatus[]> Models => _state.Models;

    /// <summary>A model's aliases as this server applies them; empty for an unknown model.</summary>
    public IReadOnlyDictionary<string, long> AliasesOf(string name) =>
        _state.Aliases.GetValueOrDefault(name) ?? (IReadOnlyDictionary<string, long>)new Dictionary<string, long>();

    /// <summary>
    /// Publishes a model's versions and aliases at once, then releases the sessions of loads no longer listed in the
    /// background, after their queued and running requests finish.
    /// </summary>
    public void Publish(string name, ModelVersionStatus[] versions, IReadOnlyDictionary<string, long> aliases)
    {
        ServedModel[] retired;
        lock (_writeLock)
        {
            Snapshot current = _state;
            var models = new SortedDictionary<string, ModelVersionStatus[]>(current.Models, StringComparer.Ordinal) { [name] = versions };
            var allAliases = new Dictionary<string, IReadOnlyDictionary<string, long>>(current.Aliases) { [name] = aliases };
            _state = new Snapshot(models, allAliases);
            retired = (current.Models.GetValueOrDefault(name) ?? [])
                .Select(v => v.Model)
                .Where(m => m is not null && !versions.Any(v => ReferenceEquals(v.Model, m)))
                .ToArray()!;
        }

        if (retired.Length > 0)
        {
            _ = Task.Run(() =>
            {
                foreach (ServedModel model in retired)
                {
                    model.Dispose();
                }
            });
        }
    }

    /// <summary>What a lookup of a model this server does not serve says (also what another tenant's model reads as).</summary>
    public static string UnknownModelMessage(string name) => $"model '{name}' not found in the repository.";

    /// <summary>Every model with its versions' states, in name order.</summary>
    public IReadOnlyList<(string Name, ModelVersionStatus[] Versions)> Index() =>
        _state.Models.Select(m => (m.Key, m.Value)).ToArray();

    /// <summary>
    /// Finds the version a request names, or the highest ready version when it names none.
    /// Unknown model or version: NotFound; a version that failed to load: Unavailable.
    /// </summary>
    public ServedModel? Find(string name, string? version, out InferenceError? error)
    {
        error = null;
        Snapshot state = _state;
        if (!state.Models.TryGetValue(name, out ModelVersionStatus[]? versions))
        {
            error = new InferenceError(ErrorKind.NotFound, UnknownModelMessage(name));
            return null;
        }

        IReadOnlyDictionary<string, long>? aliases = state.Aliases.GetValueOrDefault(name);
        if (version is null or "" && aliases?.TryGetValue(DefaultAlias, out long production) == true)
        {
            version = production.ToString(CultureInfo.InvariantCulture);
        }
        else if (version is not null && aliases?.TryGetValue(version, out long aliased) == true)
        {
            version = aliased.ToString(CultureInfo.InvariantCulture);
        }

        if (version is null or "")
        {
            for (int i = versions.Length - 1; i >= 0; i--)
            {
                if (versions[i].State == ModelState.Ready)
                {
                    return versions[i].Model;
                }
            }

            error = new InferenceError(ErrorKind.Unavailable, versions.Length == 0
                ? $"model '{name}' has no version to serve (all are retired or none is picked by its version policy)."
                : $"model '{name}' has no ready version: {versions[^1].Reason}");
            return null;
        }

        if (long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out long number))
        {
            foreach (ModelVersionStatus status in versions)
            {
                if (status.Version == number)
                {
                    if (status.State == ModelState.Ready)
                    {
                        return status.Model;
                    }

                    error = new InferenceError(ErrorKind.Unavailable, $"model '{name}' version {number} is not ready: {status.Reason}");
                    return null;
                }
            }
        }

        string known = string.Join(", ", versions.Select(v => v.Version));
        string aliasNames = aliases is { Count: > 0 } ? $"; aliases: {string.Join(", ", aliases.Keys.Order(StringComparer.Ordinal))}" : "";
        error = new InferenceError(ErrorKind.NotFound, $"model '{name}' has no version '{version}'; versions: {known}{aliasNames}.");
        return null;
    }

    /// <summary>
    /// The ready versions a statistics query names: every model's (no name), one model's (no version), or one.
    /// Unknown names and versions give NotFound, as <see cref="Find"/> does.
    /// </summary>
    public IReadOnlyList<ServedModel> ReadyVersions(string? name, string? version, out InferenceError? error)
    {
        error = null;
        if (string.IsNullOrEmpty(name))
        {
            return _state.Models.Values.SelectMany(v => v).Where(v => v.State == ModelState.Ready).Select(v => v.Model!).ToArray();
        }

        if (string.IsNullOrEmpty(version))
        {
            if (_state.Models.TryGetValue(name, out ModelVersionStatus[]? versions))
            {
                return versions.Where(v => v.State == ModelState.Ready).Select(v => v.Model!).ToArray();
            }

            error = new InferenceError(ErrorKind.NotFound, UnknownModelMessage(name));
            return [];
        }

        ServedModel? model = Find(name, version, out error);
        return model is null ? [] : [model];
    }

    /// <summary>The status of one version, or of the model's highest version when <paramref name="version"/> is null.</summary>
    public ModelVersionStatus? Status(string name, string? version)
    {
        if (!_state.Models.TryGetValue(name, out ModelVersionStatus[]? versions) || versions.Length == 0)
        {
            return null;
        }

        if (version is null)
        {
            return Array.FindLast(versions, v => v.State == ModelState.Ready) ?? versions[^1];
        }

        return long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out long number)
            ? Array.Find(versions, v => v.Version == number)
            : null;
    }

    public void Dispose()
    {
        foreach (ModelVersionStatus[] versions in _state.Models.Values)
        {
            foreach (ModelVersionStatus status in versions)
            {
                status.Model?.Dispose();
            }
        }
    }

    /// <summary>
    /// Loads one version from its artifact bytes and configuration, checking a config.pbtxt against the signature
    /// ONNX Runtime reports; a failure comes back as a failed status with the reason, never as an exception.
    /// </summary>
    public static ModelVersionStatus LoadVersion(string name, long version, byte[] artifact, ResolvedModelConfig resolved,
        OnnxRuntime runtime, ILogger logger)
    {
        ModelVersionStatus status = LoadVersion(name, version, artifact, resolved, runtime);
        if (status.State == ModelState.Ready)
        {
            Log.VersionLoaded(logger, name, version, string.Join(",", status.Model!.ExecutionProviders));
        }
        else
        {
            Log.VersionFailed(logger, name, version, status.Reason!);
        }

        return status;
    }

    private static ModelVersionStatus LoadVersion(string name, long version, byte[] artifact, ResolvedModelConfig resolved, OnnxRuntime runtime)
    {
        ServedModel model;
        try
        {
            model = ServedModel.Load(name, version, artifact, resolved.Config, resolved.Labels, runtime, resolved.Triton);
        }
        catch (Exception e) when (e is OnnxRuntimeException or ModelConfigException or ArgumentException)
        {
            return new ModelVersionStatus(name, version, ModelState.Failed, e.Message, null);
        }

        // The signature is only known once ONNX Runtime has read the model, so a config.pbtxt is checked after loading.
        IReadOnlyList<string> disagreements = resolved.Triton?.Validate(model.ModelInputs, model.ModelOutputs) ?? [];
        if (disagreements.Count > 0)
        {
            model.Dispose();
            return new ModelVersionStatus(name, version, ModelState.Failed, string.Join("; ", disagreements) + ".", null);
        }

        return new ModelVersionStatus(name, version, ModelState.Ready, null, model);
    }

    /// <summary>Logs a config.pbtxt's warnings (fields Quiver reads but does not apply).</summary>
    public static void LogConfigWarnings(ILogger logger, string name, TritonModelConfig? triton)
    {
        foreach (string warning in triton?.Warnings ?? [])
        {
            Log.ConfigWarning(logger, name, warning);
        }
    }

    private sealed record Snapshot(
        SortedDictionary<string, ModelVersionStatus[]> Models, Dictionary<string, IReadOnlyDictionary<string, long>> Aliases);

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Model {Model} version {Version} is ready on {Providers}")]
        public static partial void VersionLoaded(ILogger logger, string model, long version, string providers);

        [LoggerMessage(EventId = 101, Level = LogLevel.Error, Message = "Model {Model} version {Version} failed to load: {Reason}")]
        public static partial void VersionFailed(ILogger logger, string model, long version, string reason);

        [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Model {Model}: {Warning}")]
        public static partial void ConfigWarning(ILogger logger, string model, string warning);
    }
}
