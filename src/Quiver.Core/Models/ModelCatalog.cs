using System.Globalization;
using Microsoft.Extensions.Logging;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Models;

/// <summary>
/// The models of a repository directory in Triton's layout, <c>&lt;root&gt;/&lt;model&gt;/&lt;version&gt;/model.onnx</c>,
/// every numeric version loaded at start, or those the version_policy of a Triton <c>config.pbtxt</c> picks.
/// A version that fails to load is kept with its reason so the server and the other models keep serving.
/// </summary>
public sealed partial class ModelCatalog : IDisposable
{
    /// <summary>The file looked for in each version folder.</summary>
    public const string ModelFileName = "model.onnx";

    private readonly Lock _writeLock = new();
    private readonly OnnxRuntime _runtime;
    private readonly ILogger _logger;

    // Copy-on-write: a reader takes the current map once and sees one consistent state of every model.
    private volatile SortedDictionary<string, ModelVersionStatus[]> _models;

    private ModelCatalog(string root, SortedDictionary<string, ModelVersionStatus[]> models, OnnxRuntime runtime, ILogger logger)
    {
        RepositoryPath = root;
        _models = models;
        _runtime = runtime;
        _logger = logger;
    }

    /// <summary>The repository directory, as an absolute path.</summary>
    public string RepositoryPath { get; }

    /// <summary>Every model name with its versions, in name order, versions ascending.</summary>
    public IReadOnlyDictionary<string, ModelVersionStatus[]> Models => _models;

    /// <summary>Scans and loads a model repository. Throws <see cref="DirectoryNotFoundException"/> when it does not exist.</summary>
    public static ModelCatalog Load(string repositoryPath, OnnxRuntime runtime, ILogger logger)
    {
        string root = Path.GetFullPath(repositoryPath);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException(
                $"Model repository '{root}' does not exist. Pass --model-repository DIR with folders laid out as <model>/<version>/model.onnx.");
        }

        var models = new SortedDictionary<string, ModelVersionStatus[]>(StringComparer.Ordinal);
        foreach (string modelDir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(modelDir);
            if (name.StartsWith('.'))
            {
                continue;
            }

            ModelVersionStatus[] versions = LoadModel(name, modelDir, runtime, logger);
            if (versions.Length > 0)
            {
                models[name] = versions;
            }
        }

        return new ModelCatalog(root, models, runtime, logger);
    }

    /// <summary>
    /// Loads, or reloads, one model from its folder, or with <paramref name="configOverride"/> (Triton's JSON
    /// model configuration) instead of its config files. The new versions replace the old at once; the old
    /// ones are released after the requests running on them finish. Null when a version is ready.
    /// </summary>
    public InferenceError? LoadModel(string name, string? configOverride = null)
    {
        string dir = Path.Combine(RepositoryPath, name);
        if (name.Length == 0 || name.StartsWith('.') || name.IndexOfAny(['/', '\\']) >= 0 || !Directory.Exists(dir))
        {
            return new InferenceError(ErrorKind.NotFound, $"model '{name}' has no folder in the repository {RepositoryPath}.");
        }

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

        ModelVersionStatus[] loaded;
        ModelVersionStatus[] served;
        lock (_writeLock)
        {
            // Loaded and warmed up off the request path; requests keep going to the old versions meanwhile.
            loaded = LoadModel(name, dir, _runtime, _logger, overrideConfig);
            served = KeepServingWhatFailedToReload(loaded, _models.GetValueOrDefault(name) ?? []);
            Replace(name, served);
        }

        ModelVersionStatus[] failed = loaded.Where(v => v.State != ModelState.Ready).ToArray();
        bool keptOld = served.Any(v => v.State == ModelState.Ready && v.Reason is not null);
        return served.Any(v => v.State == ModelState.Ready) && !keptOld
            ? null
            : new InferenceError(ErrorKind.InvalidArgument,
                $"model '{name}' failed to load: {string.Join("; ", failed.Select(v => $"version {v.Version}: {v.Reason}").DefaultIfEmpty("no numeric version folder"))}" +
                (keptOld ? "; the previously loaded versions keep serving" : ""));
    }

    // A version that served before and fails to load now keeps serving its previous load, with the failure as its reason.
    private static ModelVersionStatus[] KeepServingWhatFailedToReload(ModelVersionStatus[] loaded, ModelVersionStatus[] old) =>
        Array.ConvertAll(loaded, version =>
            version.State != ModelState.Ready && Array.Find(old, o => o.Version == version.Version && o.State == ModelState.Ready) is { } previous
                ? previous with { Reason = $"reload failed, still serving the previous load: {version.Reason}" }
                : version);

    /// <summary>Unloads every version of a model; it stays listed as unloaded until loaded again.</summary>
    public InferenceError? UnloadModel(string name)
    {
        lock (_writeLock)
        {
            if (!_models.TryGetValue(name, out ModelVersionStatus[]? versions))
            {
                return new InferenceError(ErrorKind.NotFound, $"model '{name}' is not in the repository.");
            }

            Replace(name, versions.Select(v => v with { State = ModelState.Unloaded, Reason = "unloaded", Model = null }).ToArray());
        }

        return null;
    }

    /// <summary>
    /// Every model folder of the repository with its versions' states; a folder that was never loaded
    /// (added after start) appears with no versions.
    /// </summary>
    public IReadOnlyList<(string Name, ModelVersionStatus[] Versions)> Index()
    {
        SortedDictionary<string, ModelVersionStatus[]> models = _models;
        var names = new SortedSet<string>(models.Keys, StringComparer.Ordinal);
        if (Directory.Exists(RepositoryPath))
        {
            names.UnionWith(Directory.EnumerateDirectories(RepositoryPath).Select(Path.GetFileName).Where(n => !n!.StartsWith('.'))!);
        }

        return names.Select(n => (n, models.GetValueOrDefault(n) ?? [])).ToArray();
    }

    // Publishes a new map with the model's new versions at once, then releases the replaced versions' sessions in the
    // background: their queued and running requests finish first.
    private void Replace(string name, ModelVersionStatus[] versions)
    {
        SortedDictionary<string, ModelVersionStatus[]> current = _models;
        var next = new SortedDictionary<string, ModelVersionStatus[]>(current, StringComparer.Ordinal) { [name] = versions };
        _models = next;
        ServedModel[] retired = (current.GetValueOrDefault(name) ?? [])
            .Select(v => v.Model)
            .Where(m => m is not null && !versions.Any(v => ReferenceEquals(v.Model, m)))
            .ToArray()!;
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

    /// <summary>
    /// Finds the version a request names, or the highest ready version when it names none.
    /// Unknown model or version: NotFound; a version that failed to load: Unavailable.
    /// </summary>
    public ServedModel? Find(string name, string? version, out InferenceError? error)
    {
        error = null;
        if (!_models.TryGetValue(name, out ModelVersionStatus[]? versions))
        {
            error = new InferenceError(ErrorKind.NotFound, $"model '{name}' not found in the repository.");
            return null;
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

            error = new InferenceError(ErrorKind.Unavailable, $"model '{name}' has no ready version: {versions[^1].Reason}");
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
        error = new InferenceError(ErrorKind.NotFound, $"model '{name}' has no version '{version}'; versions: {known}.");
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
            return _models.Values.SelectMany(v => v).Where(v => v.State == ModelState.Ready).Select(v => v.Model!).ToArray();
        }

        if (string.IsNullOrEmpty(version))
        {
            if (_models.TryGetValue(name, out ModelVersionStatus[]? versions))
            {
                return versions.Where(v => v.State == ModelState.Ready).Select(v => v.Model!).ToArray();
            }

            error = new InferenceError(ErrorKind.NotFound, $"model '{name}' not found in the repository.");
            return [];
        }

        ServedModel? model = Find(name, version, out error);
        return model is null ? [] : [model];
    }

    /// <summary>The status of one version, or of the model's highest version when <paramref name="version"/> is null.</summary>
    public ModelVersionStatus? Status(string name, string? version)
    {
        if (!_models.TryGetValue(name, out ModelVersionStatus[]? versions))
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
        foreach (ModelVersionStatus[] versions in _models.Values)
        {
            foreach (ModelVersionStatus status in versions)
            {
                status.Model?.Dispose();
            }
        }
    }

    private static ModelVersionStatus[] LoadModel(string name, string modelDir, OnnxRuntime runtime, ILogger logger,
        TritonModelConfig? overrideConfig = null)
    {
        var versionDirs = new List<(long Version, string? Path)>();
        foreach (string dir in Directory.EnumerateDirectories(modelDir))
        {
            if (long.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out long version))
            {
                versionDirs.Add((version, dir));
            }
        }

        TritonModelConfig? triton = null;
        ModelConfig? config = null;
        string? configError = null;
        IReadOnlyDictionary<string, string[]> labels = new Dictionary<string, string[]>();
        try
        {
            // A load request's override replaces the model's config files, as in Triton.
            triton = overrideConfig ?? ReadTritonConfig(modelDir);
            config = overrideConfig?.ToModelConfig() ?? ReadConfig(modelDir, triton);
            labels = ReadLabels(modelDir, config);
        }
        catch (Exception e) when (e is ModelConfigException or IOException or UnauthorizedAccessException)
        {
            configError = e.Message;
        }

        if (triton is not null)
        {
            foreach (string warning in triton.Warnings)
            {
                Log.ConfigWarning(logger, name, warning);
            }

            versionDirs = ApplyVersionPolicy(triton.VersionPolicy, versionDirs);
        }

        versionDirs.Sort((a, b) => a.Version.CompareTo(b.Version));
        var statuses = new ModelVersionStatus[versionDirs.Count];
        for (int i = 0; i < statuses.Length; i++)
        {
            (long version, string? dir) = versionDirs[i];
            statuses[i] = (configError, dir) switch
            {
                (not null, _) => new ModelVersionStatus(name, version, ModelState.Failed, configError, null),
                (_, null) => new ModelVersionStatus(name, version, ModelState.Failed,
                    $"{TritonModelConfig.FileName} version_policy names version {version}, but the model has no folder '{version}'.", null),
                _ => LoadVersion(name, version, Path.Combine(dir, ModelFileName), config!, triton, labels, runtime),
            };
            if (statuses[i].State == ModelState.Ready)
            {
                Log.VersionLoaded(logger, name, version, string.Join(",", statuses[i].Model!.ExecutionProviders));
            }
            else
            {
                Log.VersionFailed(logger, name, version, statuses[i].Reason!);
            }
        }

        return statuses;
    }

    /// <summary>
    /// Keeps the version folders the policy picks; versions outside it are not listed at all, as in Triton.
    /// A specific version without a folder is added with a null path so it shows up as failed instead of vanishing.
    /// </summary>
    private static List<(long Version, string? Path)> ApplyVersionPolicy(TritonVersionPolicy policy,
        List<(long Version, string? Path)> versionDirs)
    {
        long[] selected = policy.Select(versionDirs.Select(v => v.Version));
        var kept = versionDirs.Where(v => selected.Contains(v.Version)).ToList();
        if (policy.Kind == TritonVersionPolicyKind.Specific)
        {
            foreach (long missing in policy.Versions.Distinct().Where(v => !selected.Contains(v)))
            {
                kept.Add((missing, null));
            }
        }

        return kept;
    }

    private static ModelVersionStatus LoadVersion(string name, long version, string path, ModelConfig config,
        TritonModelConfig? triton, IReadOnlyDictionary<string, string[]> labels, OnnxRuntime runtime)
    {
        if (!File.Exists(path))
        {
            return new ModelVersionStatus(name, version, ModelState.Failed, $"{path} is missing.", null);
        }

        ServedModel model;
        try
        {
            model = ServedModel.Load(name, version, path, config, labels, runtime, triton);
        }
        catch (Exception e) when (e is OnnxRuntimeException or ModelConfigException or ArgumentException)
        {
            return new ModelVersionStatus(name, version, ModelState.Failed, e.Message, null);
        }

        // The signature is only known once ONNX Runtime has read the file, so a config.pbtxt is checked after loading.
        IReadOnlyList<string> disagreements = triton?.Validate(model.ModelInputs, model.ModelOutputs) ?? [];
        if (disagreements.Count > 0)
        {
            model.Dispose();
            return new ModelVersionStatus(name, version, ModelState.Failed, string.Join("; ", disagreements) + ".", null);
        }

        return new ModelVersionStatus(name, version, ModelState.Ready, null, model);
    }

    private static TritonModelConfig? ReadTritonConfig(string modelDir)
    {
        string path = Path.Combine(modelDir, TritonModelConfig.FileName);
        return File.Exists(path) ? TritonModelConfig.Parse(File.ReadAllText(path)) : null;
    }

    private static ModelConfig ReadConfig(string modelDir, TritonModelConfig? triton)
    {
        ModelConfig config = triton?.ToModelConfig() ?? ModelConfig.Default;
        string path = Path.Combine(modelDir, ModelConfig.FileName);

        // config.json is Quiver's own file, so a setting it gives overrides the same setting from config.pbtxt;
        // settings it leaves out keep config.pbtxt's values.
        return File.Exists(path) ? ModelConfig.Parse(File.ReadAllText(path), config) : config;
    }

    private static Dictionary<string, string[]> ReadLabels(string modelDir, ModelConfig config)
    {
        var labels = new Dictionary<string, string[]>();
        foreach (var (output, file) in config.LabelFiles)
        {
            string path = Path.GetFullPath(Path.Combine(modelDir, file));
            if (!path.StartsWith(Path.GetFullPath(modelDir) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new ModelConfigException($"label file '{file}' must be inside the model's folder.");
            }

            if (!File.Exists(path))
            {
                throw new ModelConfigException($"label file '{file}' for output '{output}' does not exist.");
            }

            labels[output] = File.ReadAllLines(path).Where(line => line.Length > 0).ToArray();
        }

        return labels;
    }

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
