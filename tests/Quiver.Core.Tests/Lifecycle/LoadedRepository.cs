using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Storage;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Tests.Lifecycle;

/// <summary>
/// A model repository served the way the server does it: imported into a real SQLite registry and artifact store in
/// a temporary data directory, then loaded by the lifecycle. The caller disposes <see cref="Catalog"/>; this disposes the rest.
/// </summary>
internal sealed class LoadedRepository : IAsyncDisposable, IDisposable
{
    private LoadedRepository(ModelLifecycle lifecycle, IModelRegistry registry, string dataDirectory)
    {
        Lifecycle = lifecycle;
        Registry = registry;
        DataDirectory = dataDirectory;
    }

    public ModelLifecycle Lifecycle { get; }

    public ModelCatalog Catalog => Lifecycle.Catalog;

    public IModelRegistry Registry { get; }

    public string DataDirectory { get; }

    /// <summary>Imports and loads <paramref name="root"/>; no background polling, so tests decide when things change.</summary>
    public static async Task<LoadedRepository> LoadAsync(string root, ILogger? logger = null, MasterKey? key = null, string? dataDirectory = null)
    {
        dataDirectory ??= Directory.CreateTempSubdirectory("quiver-data-").FullName;
        IModelRegistry registry = await ModelRegistry.OpenAsync(Path.Combine(dataDirectory, ModelRegistry.DefaultFileName));
        var vault = new ArtifactVault(Path.Combine(dataDirectory, "artifacts"), () => key, null);
        var publisher = new ModelPublisher(registry, vault, OnnxRuntime.Instance);
        var lifecycle = new ModelLifecycle(registry, vault, new ModelCatalog(), OnnxRuntime.Instance,
            new RepositoryImporter(root, publisher, registry),
            new LifecycleSettings("test", TimeSpan.FromHours(1), TimeSpan.Zero), logger ?? NullLogger.Instance);
        var loaded = new LoadedRepository(lifecycle, registry, dataDirectory);
        try
        {
            await lifecycle.StartAsync(default);
        }
        catch
        {
            await loaded.DisposeAsync();
            throw;
        }

        return loaded;
    }

    public static LoadedRepository Load(string root, ILogger? logger = null) => LoadAsync(root, logger).GetAwaiter().GetResult();

    /// <summary>The repository extension's load, as the server runs it.</summary>
    public InferenceError? LoadModel(string name, string? config = null) => Lifecycle.LoadAsync(name, config, default).GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        await Lifecycle.DisposeAsync();
        await Registry.DisposeAsync();
        Directory.Delete(DataDirectory, recursive: true);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
