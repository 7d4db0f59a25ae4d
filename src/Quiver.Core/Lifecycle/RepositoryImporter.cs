using System.Globalization;
using System.Security.Cryptography;
using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Storage;

namespace Quiver.Core.Lifecycle;

/// <summary>
/// Registers the versions of a model repository in Triton's layout (<c>&lt;model&gt;/&lt;version&gt;/model.onnx</c>,
/// config files beside the versions) under the folder's version number. Run at start and on every poll, so a new
/// version folder registers itself. A folder that cannot be registered is remembered with its reason, so the
/// server lists it as failed instead of silently ignoring it.
/// </summary>
public sealed class RepositoryImporter(string root, ModelPublisher publisher, IModelRegistry registry)
{
    /// <summary>The file looked for in each version folder.</summary>
    public const string ModelFileName = "model.onnx";

    // Folders already registered as they are now: not hashed again on every poll.
    private readonly Dictionary<string, (long Length, DateTime Written, string Config)> _imported = [];
    private volatile Dictionary<string, IReadOnlyDictionary<long, string>> _failures = [];

    /// <summary>The repository folder, as a full path.</summary>
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>The model folder for a name, or null when the repository has none (or the name could escape it).</summary>
    public string? FolderOf(string model) =>
        model.Length > 0 && !model.StartsWith('.') && model.IndexOfAny(['/', '\\']) < 0 && Directory.Exists(Path.Combine(Root, model))
            ? Path.Combine(Root, model)
            : null;

    /// <summary>The models with version folders that could not be registered.</summary>
    public IEnumerable<string> ModelsWithFailures => _failures.Where(f => f.Value.Count > 0).Select(f => f.Key);

    /// <summary>Version folders of a model that could not be registered, with why.</summary>
    public IReadOnlyDictionary<long, string> FailuresOf(string model) =>
        _failures.GetValueOrDefault(model) ?? (IReadOnlyDictionary<long, string>)new Dictionary<long, string>();

    /// <summary>
    /// Registers every new version folder (of one model, or all), and updates the configuration of registered ones
    /// whose config files changed. Returns the models whose registration or failures changed.
    /// </summary>
    public async Task<IReadOnlyList<string>> ImportAsync(string? onlyModel, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Root))
        {
            throw new DirectoryNotFoundException(
                $"Model repository '{Root}' does not exist. Pass --model-repository DIR with folders laid out as <model>/<version>/model.onnx.");
        }

        IEnumerable<string> folders = onlyModel is null
            ? Directory.EnumerateDirectories(Root).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal)
            : FolderOf(onlyModel) is { } modelFolder ? [modelFolder] : [];
        var changed = new List<string>();
        foreach (string folder in folders)
        {
            string model = Path.GetFileName(folder);
            Dictionary<long, string> failures = [];
            bool registered = await ImportModelAsync(model, folder, failures, cancellationToken);
            IReadOnlyDictionary<long, string> before = FailuresOf(model);
            if (registered || before.Count != failures.Count || failures.Any(f => before.GetValueOrDefault(f.Key) != f.Value))
            {
                changed.Add(model);
            }

            _failures = new Dictionary<string, IReadOnlyDictionary<long, string>>(_failures) { [model] = failures };
        }

        return changed;
    }

    private async Task<bool> ImportModelAsync(string model, string folder, Dictionary<long, string> failures, CancellationToken cancellationToken)
    {
        List<long> versions = Directory.EnumerateDirectories(folder)
            .Select(d => long.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0 ? v : 0)
            .Where(v => v > 0)
            .Order()
            .ToList();
        ModelBundle bundle;
        try
        {
            RegistryNames.RequireModelName(model);
            bundle = ModelBundle.FromFolder(folder);
            bundle.Resolve();
        }
        catch (Exception e) when (e is ModelConfigException or IOException or UnauthorizedAccessException or RegistryException)
        {
            versions.ForEach(v => failures[v] = e.Message);
            return false;
        }

        string config = bundle.ToJson();
        bool registeredAny = false;
        foreach (long version in versions)
        {
            string path = Path.Combine(folder, version.ToString(CultureInfo.InvariantCulture), ModelFileName);
            try
            {
                registeredAny |= await ImportVersionAsync(model, version, path, bundle, config, cancellationToken);
            }
            catch (ArtifactRejectedException e)
            {
                failures[version] = $"{path}: {e.Message}";
            }
            catch (Exception e) when (e is ArtifactException or RegistryException { Kind: not RegistryErrorKind.Unavailable } or IOException)
            {
                failures[version] = e.Message;
            }
        }

        return registeredAny;
    }

    private async Task<bool> ImportVersionAsync(string model, long version, string path, ModelBundle bundle, string config,
        CancellationToken cancellationToken)
    {
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            throw new FileNotFoundException($"{path} is missing.", path);
        }

        if (_imported.TryGetValue(path, out var seen) && seen == (file.Length, file.LastWriteTimeUtc, config))
        {
            return false;
        }

        RegisteredVersion? registered = await registry.GetVersionAsync(model, version, cancellationToken);
        bool changed;
        if (registered is null)
        {
            await using FileStream content = file.OpenRead();
            await publisher.PushAsync(content, new PushRequest
            {
                Model = model,
                Version = version,
                Bundle = bundle,
                Force = true,
                Creator = "repository",
                Description = $"imported from the model repository",
                SourceUri = new Uri(path).AbsoluteUri,
            }, cancellationToken);
            changed = true;
        }
        else
        {
            string sha256 = await HashAsync(path, cancellationToken);
            if (sha256 != registered.Sha256)
            {
                throw new IOException(
                    $"{path} changed since it was registered as version {version} (sha256 {registered.Sha256[..12]}…, now {sha256[..12]}…); " +
                    "a registered version never changes: put the new model in a new version folder.");
            }

            // The artifact is the same; its serving configuration may be edited, as Triton reloads config.pbtxt.
            changed = registered.ConfigJson != config && registered.State != VersionState.Retired;
            if (changed)
            {
                await registry.SetConfigAsync(model, version, config, cancellationToken);
            }
        }

        _imported[path] = (file.Length, file.LastWriteTimeUtc, config);
        return changed;
    }

    private static async Task<string> HashAsync(string path, CancellationToken cancellationToken)
    {
        await using FileStream file = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
    }
}
