using System.Globalization;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Storage;

namespace Quiver.Core.Batch;

/// <summary>Finds a batch job's model in the registry a server uses, and reads its artifact as the server would.</summary>
public static class RegistryModels
{
    /// <summary>
    /// Resolves NAME[:VERSION|@ALIAS]: a bare NAME means the "production" alias when set, else the newest version that
    /// is not failed or retired. Reads the artifact from <paramref name="artifactsRoot"/> (or the registry's shared
    /// copy), decrypting it with the master key when it is encrypted, and checks its sha256.
    /// </summary>
    public static async Task<BatchModel> LoadAsync(string model, string registry, string artifactsRoot, Func<MasterKey?> loadKey,
        CancellationToken cancellationToken)
    {
        bool postgres = registry.StartsWith("postgres", StringComparison.OrdinalIgnoreCase) || registry.StartsWith("Host=", StringComparison.OrdinalIgnoreCase);
        if (!postgres && !File.Exists(registry))
        {
            throw new BatchException(BatchErrorKind.ModelNotFound,
                $"registry '{registry}' does not exist; pass --data-dir of a server that has models registered, or --registry.");
        }

        var (name, version, alias) = Parse(model);
        try
        {
            await using IModelRegistry opened = await ModelRegistry.OpenAsync(registry, cancellationToken);
            IReadOnlyList<RegisteredVersion> versions;
            try
            {
                versions = await opened.GetVersionsAsync(name, cancellationToken);
            }
            catch (RegistryException e) when (e.Kind == RegistryErrorKind.NotFound)
            {
                IReadOnlyList<RegisteredModel> models = await opened.GetModelsAsync(cancellationToken);
                throw new BatchException(BatchErrorKind.ModelNotFound,
                    $"the registry has no model '{name}'; it has: {(models.Count == 0 ? "none" : string.Join(", ", models.Select(m => m.Name)))}.");
            }

            IReadOnlyDictionary<string, long> aliases = await opened.GetAliasesAsync(name, cancellationToken);
            RegisteredVersion chosen = Choose(name, versions, aliases, version, alias);
            var vault = new ArtifactVault(artifactsRoot, loadKey, opened as IArtifactBlobStore);
            byte[] bytes = await vault.ReadAsync(chosen, cancellationToken);
            return BatchModel.FromBytes($"{name}:{chosen.Version}", chosen.Sha256, bytes)
                .WithConfig(() => Models.ModelBundle.Parse(chosen.ConfigJson).Resolve().Config, $"the config of {name}:{chosen.Version} in the registry");
        }
        catch (RegistryException e)
        {
            throw new BatchException(BatchErrorKind.Model, $"the registry cannot give model '{model}': {e.Message}", e);
        }
        catch (ArtifactException e)
        {
            throw new BatchException(BatchErrorKind.Model, $"the artifact of model '{model}' cannot be read: {e.Message}", e);
        }
    }

    private static (string Name, long? Version, string? Alias) Parse(string model)
    {
        int at = model.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            return (model[..at], null, model[(at + 1)..]);
        }

        int colon = model.LastIndexOf(':');
        if (colon < 0)
        {
            return (model, null, null);
        }

        return long.TryParse(model.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v > 0
            ? (model[..colon], v, null)
            : throw new BatchException(BatchErrorKind.Model, $"--model '{model}': the version after ':' must be a number from 1 up.");
    }

    private static RegisteredVersion Choose(string name, IReadOnlyList<RegisteredVersion> versions, IReadOnlyDictionary<string, long> aliases,
        long? version, string? alias)
    {
        string aliasList = aliases.Count == 0 ? "none" : string.Join(", ", aliases.Keys.Order(StringComparer.Ordinal));
        if (alias is not null)
        {
            version = aliases.TryGetValue(alias, out long aliased) ? aliased
                : throw new BatchException(BatchErrorKind.ModelNotFound, $"model '{name}' has no alias '{alias}'; its aliases: {aliasList}.");
        }
        else if (version is null && aliases.TryGetValue(ModelCatalog.DefaultAlias, out long production))
        {
            version = production;
        }

        if (version is null)
        {
            return versions.LastOrDefault(v => v.State is not (VersionState.Failed or VersionState.Retired))
                ?? throw new BatchException(BatchErrorKind.Model, $"model '{name}' has no version that is neither failed nor retired.");
        }

        RegisteredVersion found = versions.FirstOrDefault(v => v.Version == version)
            ?? throw new BatchException(BatchErrorKind.ModelNotFound,
                $"model '{name}' has no version {version}; its versions: {string.Join(", ", versions.Select(v => v.Version))}; aliases: {aliasList}.");
        return found.State == VersionState.Retired
            ? throw new BatchException(BatchErrorKind.Model, $"model '{name}' version {version} is retired.")
            : found;
    }
}
