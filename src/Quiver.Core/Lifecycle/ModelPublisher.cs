using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Storage;
using Quiver.Onnx;

namespace Quiver.Core.Lifecycle;

/// <summary>What a push supplies besides the model bytes.</summary>
public sealed record PushRequest
{
    public required string Model { get; init; }

    /// <summary>The version's configuration files; defaults to none (Quiver's defaults).</summary>
    public ModelBundle Bundle { get; init; } = ModelBundle.Empty;

    /// <summary>A specific version number (a repository folder's), or null for the next.</summary>
    public long? Version { get; init; }

    /// <summary>An alias to point at the new version once registered; also the alias whose clients the signature check protects.</summary>
    public string? Alias { get; init; }

    /// <summary>Register even when the signature breaks the alias's clients.</summary>
    public bool Force { get; init; }

    public string? Description { get; init; }

    public string? Creator { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    public string? SourceUri { get; init; }

    public string? TrainingRunId { get; init; }

    /// <summary>
    /// The pushing principal's tenant (or the one an admin without a tenant names); null takes the tenant of the
    /// bundle's config.json, if any. A model's owner is set by its first version.
    /// </summary>
    public string? Tenant { get; init; }

    /// <summary>The regions the version may be loaded in (data residency); null takes config.json's allowed_regions, if any.</summary>
    public IReadOnlyList<string>? AllowedRegions { get; init; }

    /// <summary>Lineage: the version of this model the artifact was derived from; it must exist.</summary>
    public long? DerivedFrom { get; init; }

    /// <summary>The optimization report (a JSON object) of a derived version.</summary>
    public string? OptimizationReport { get; init; }
}

/// <summary>The outcome of a push.</summary>
/// <param name="Existing">The same artifact with the same configuration was already a version; nothing new was registered.</param>
/// <param name="SignatureChanges">How the signature differs in ways that break the compared version's clients (pushed with force).</param>
public sealed record PushResult(RegisteredVersion Version, bool AlreadyStored, bool Existing, IReadOnlyList<string> SignatureChanges);

/// <summary>
/// Registers new versions: the artifact is validated and stored (encrypted when configured) before the registry row
/// exists, so no row ever points at a missing or half-written file; then shared with other replicas, then recorded.
/// </summary>
public sealed class ModelPublisher(IModelRegistry registry, ArtifactVault vault, OnnxRuntime runtime)
{
    /// <summary>
    /// Stores and registers a model. Throws <see cref="ArtifactRejectedException"/> for bytes that are not a usable ONNX
    /// model, <see cref="RegistryException"/> (Invalid for a bad configuration, Conflict for a signature that breaks the
    /// alias's clients without <see cref="PushRequest.Force"/>, and the registry's own errors).
    /// </summary>
    public async Task<PushResult> PushAsync(Stream content, PushRequest request, CancellationToken cancellationToken)
    {
        RegistryNames.RequireModelName(request.Model);
        if (request.Alias is not null)
        {
            RegistryNames.RequireAliasName(request.Alias);
        }

        WarmupSample? warmup = CheckConfiguration(request.Bundle);
        IReadOnlyList<string>? regions = request.AllowedRegions is { } given
            ? Validated(given)
            : request.Bundle.Resolve().Config.AllowedRegions;
        await CheckLineageAsync(request, cancellationToken);

        // One push at a time from storing to registering: a file no version records is then one a crash left (its data
        // key died with the push), never one another push is about to record, and the put may replace it.
        await vault.Publishing.WaitAsync(cancellationToken);
        try
        {
            return await StoreAndRegisterAsync(content, request, warmup, regions, cancellationToken);
        }
        finally
        {
            vault.Publishing.Release();
        }
    }

    private async Task<PushResult> StoreAndRegisterAsync(Stream content, PushRequest request, WarmupSample? warmup, IReadOnlyList<string>? regions,
        CancellationToken cancellationToken)
    {
        string? tenant = TenantOf(request);
        StoredArtifact stored = await vault.PutAsync(content, IsUnrecordedAsync, cancellationToken);
        byte[]? wrappedKey = stored.WrappedKey;
        if (stored is { Encrypted: true, WrappedKey: null })
        {
            // Already stored: its data key is the one recorded beside the version that stored it. The put replaces a file
            // none records, so this fails only when another process changed the registry meanwhile.
            wrappedKey = (await registry.FindArtifactAsync(stored.Sha256, cancellationToken))?.WrappedDataKey
                ?? throw RegistryException.Conflict(
                    $"artifact {stored.Sha256} is on disk but no version records its key any more; push again.");
        }

        RegisteredVersion registered;
        IReadOnlyList<string> changes;
        try
        {
            string configJson = request.Bundle.ToJson();
            RegisteredVersion? same = await FindSameAsync(request.Model, stored.Sha256, configJson, cancellationToken);
            if (same is not null && request.Version is null && (same.AllowedRegions ?? []).SequenceEqual(regions ?? []))
            {
                return new PushResult(same, stored.AlreadyStored, Existing: true, []);
            }

            byte[] model = await vault.ReadAsync(new RegisteredVersion
            {
                Model = request.Model, Version = 0, Sha256 = stored.Sha256, SizeBytes = stored.SizeBytes, Framework = "onnx",
                CreatedAt = default, State = VersionState.Registered, WrappedDataKey = wrappedKey, KeyId = stored.KeyId,
            }, cancellationToken);
            ModelSignature signature;
            try
            {
                signature = ModelSignature.Of(model, runtime, warmup);
            }
            catch (WarmupSampleMismatchException e)
            {
                throw RegistryException.Invalid(e.Message);
            }
            catch (Exception e) when (e is OnnxRuntimeException or ModelConfigException)
            {
                throw new ArtifactRejectedException($"ONNX Runtime cannot load the model: {e.Message}", e);
            }

            changes = await BreakingChangesAsync(request, signature, cancellationToken);
            if (changes.Count > 0 && !request.Force)
            {
                throw RegistryException.Conflict(
                    $"the new model's signature breaks the clients of model '{request.Model}' {CompareTargetName(request)}: " +
                    $"{string.Join("; ", changes)}. Push with force to register it anyway.");
            }

            await vault.ShareAsync(stored.Sha256, stored.Encrypted, stored.ReplacedUnrecorded, cancellationToken);
            registered = await registry.RegisterVersionAsync(new VersionDraft
            {
                Model = request.Model,
                Version = request.Version,
                Sha256 = stored.Sha256,
                SizeBytes = stored.SizeBytes,
                InputSignature = ModelSignature.ToJson(signature.Inputs),
                OutputSignature = ModelSignature.ToJson(signature.Outputs),
                Creator = request.Creator,
                Description = request.Description,
                Tags = request.Tags,
                SourceUri = request.SourceUri,
                TrainingRunId = request.TrainingRunId,
                ConfigJson = configJson,
                WrappedDataKey = wrappedKey,
                KeyId = wrappedKey is null ? null : MasterKey.KeyIdOf(wrappedKey),
                Tenant = tenant,
                AllowedRegions = regions,
                DerivedFrom = request.DerivedFrom,
                OptimizationReport = request.OptimizationReport,
            }, cancellationToken);
        }
        catch when (!stored.AlreadyStored)
        {
            // Nothing records the file this push wrote: remove it rather than leave an artifact no version owns.
            vault.Delete(stored.Sha256);
            throw;
        }

        if (request.Alias is not null)
        {
            await registry.SetAliasAsync(request.Model, request.Alias, registered.Version, request.Creator ?? "push", cancellationToken);
        }

        return new PushResult(registered, stored.AlreadyStored, Existing: false, changes);
    }

    private static IReadOnlyList<string> Validated(IReadOnlyList<string> regions)
    {
        try
        {
            return regions.Count == 0
                ? throw new FormatException("the list of allowed regions is empty: name at least one, e.g. eu-west-1,eu-central-1.")
                : DataResidency.Validate(regions);
        }
        catch (FormatException e)
        {
            throw RegistryException.Invalid(e.Message);
        }
    }

    private async Task<bool> IsUnrecordedAsync(string sha256, CancellationToken cancellationToken) =>
        await registry.FindArtifactAsync(sha256, cancellationToken) is null;

    // The pusher's tenant and the one config.json names must agree: a tenant cannot push a model into another's.
    private static string? TenantOf(PushRequest request)
    {
        string? configured = request.Bundle.Resolve().Config.Tenant;
        if (request.Tenant is not null && configured is not null && configured != request.Tenant)
        {
            throw RegistryException.Invalid(
                $"config.json names tenant '{configured}', but the push is for tenant '{request.Tenant}'; remove \"tenant\" or make them match.");
        }

        return request.Tenant ?? configured;
    }

    private async Task CheckLineageAsync(PushRequest request, CancellationToken cancellationToken)
    {
        if (request.DerivedFrom is long parent && await registry.GetVersionAsync(request.Model, parent, cancellationToken) is null)
        {
            throw RegistryException.NotFound($"derived_from names version {parent} of model '{request.Model}', which does not exist.");
        }

        if (request.OptimizationReport is { } report && !IsJsonObject(report))
        {
            throw RegistryException.Invalid("optimization_report must be a JSON object, such as the report quiver optimize writes.");
        }
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(text);
            return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    // The configuration must resolve; its warm-up sample, if any, is checked against the model once it is read.
    private static WarmupSample? CheckConfiguration(ModelBundle bundle)
    {
        try
        {
            return bundle.Resolve().Config.WarmupSample;
        }
        catch (ModelConfigException e)
        {
            throw RegistryException.Invalid($"the model configuration is not valid: {e.Message}");
        }
    }

    private async Task<RegisteredVersion?> FindSameAsync(string model, string sha256, string configJson, CancellationToken cancellationToken)
    {
        RegisteredVersion? found = await registry.FindBySha256Async(model, sha256, cancellationToken);
        if (found is null)
        {
            return null;
        }

        IReadOnlyList<RegisteredVersion> versions = await registry.GetVersionsAsync(model, cancellationToken);
        return versions.LastOrDefault(v => v.Sha256 == sha256 && v.ConfigJson == configJson && v.State != VersionState.Retired);
    }

    // The version whose clients must keep working: the alias's (production by default), else the newest live one.
    private async Task<IReadOnlyList<string>> BreakingChangesAsync(PushRequest request, ModelSignature signature, CancellationToken cancellationToken)
    {
        if ((await registry.GetModelsAsync(cancellationToken)).All(m => m.Name != request.Model))
        {
            return [];
        }

        IReadOnlyDictionary<string, long> aliases = await registry.GetAliasesAsync(request.Model, cancellationToken);
        IReadOnlyList<RegisteredVersion> versions = await registry.GetVersionsAsync(request.Model, cancellationToken);
        RegisteredVersion? current = aliases.TryGetValue(request.Alias ?? ModelCatalog.DefaultAlias, out long aliased)
            ? versions.FirstOrDefault(v => v.Version == aliased)
            : versions.LastOrDefault(v => v.State is not (VersionState.Retired or VersionState.Failed));
        if (current is null
            || ModelSignature.FromJson(current.InputSignature) is not { } inputs
            || ModelSignature.FromJson(current.OutputSignature) is not { } outputs)
        {
            return [];
        }

        return signature.BreakingChangesFrom(new ModelSignature(inputs, outputs)).Select(c => $"{c} (compared with version {current.Version})").ToArray();
    }

    private static string CompareTargetName(PushRequest request) => $"(alias '{request.Alias ?? ModelCatalog.DefaultAlias}' or the latest version)";
}
