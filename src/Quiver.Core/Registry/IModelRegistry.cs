namespace Quiver.Core.Registry;

/// <summary>
/// The registry's metadata: models, their versions with lineage and state, and named aliases with their history.
/// Every change bumps <see cref="GetRevisionAsync"/> in the same transaction, so replicas can follow it.
/// </summary>
public interface IModelRegistry : IAsyncDisposable
{
    /// <summary>Where the registry lives, for logs and status pages; never contains a password.</summary>
    string Location { get; }

    /// <summary>Records a new version, creating its model if missing; the number is the model's next, assigned atomically.</summary>
    Task<RegisteredVersion> RegisterVersionAsync(VersionDraft draft, CancellationToken cancellationToken = default);

    /// <summary>Every model, in name order.</summary>
    Task<IReadOnlyList<RegisteredModel>> GetModelsAsync(CancellationToken cancellationToken = default);

    /// <summary>Every version of a model, ascending; <see cref="RegistryErrorKind.NotFound"/> for an unknown model.</summary>
    Task<IReadOnlyList<RegisteredVersion>> GetVersionsAsync(string model, CancellationToken cancellationToken = default);

    /// <summary>One version, or null when the model or version does not exist.</summary>
    Task<RegisteredVersion?> GetVersionAsync(string model, long version, CancellationToken cancellationToken = default);

    /// <summary>The newest version of a model with this artifact checksum, or null; lets a repeated push be recognised.</summary>
    Task<RegisteredVersion?> FindBySha256Async(string model, string sha256, CancellationToken cancellationToken = default);

    /// <summary>The newest version, of any model, whose artifact has this checksum, or null; its wrapped key opens the stored file.</summary>
    Task<RegisteredVersion?> FindArtifactAsync(string sha256, CancellationToken cancellationToken = default);

    /// <summary>Records how one server replica is doing with a version (loaded, failed and why); does not bump the revision.</summary>
    Task ReportReplicaStateAsync(string replica, string model, long version, VersionState state, string? reason,
        CancellationToken cancellationToken = default);

    /// <summary>What every replica last reported for a model's versions, by replica then version.</summary>
    Task<IReadOnlyList<ReplicaVersionState>> GetReplicaStatesAsync(string model, CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces an endpoint's definition (its variants and weights, as JSON); replicas follow it.</summary>
    Task SetEndpointAsync(string name, string definitionJson, string changedBy, CancellationToken cancellationToken = default);

    /// <summary>Removes an endpoint; <see cref="RegistryErrorKind.NotFound"/> when there is none.</summary>
    Task RemoveEndpointAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every endpoint's definition, by name.</summary>
    Task<IReadOnlyDictionary<string, string>> GetEndpointsAsync(CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces a model's rollout state (JSON, owned by the rollout controller); replicas follow it.</summary>
    Task SetRolloutAsync(string model, string stateJson, CancellationToken cancellationToken = default);

    /// <summary>Stores (or replaces) a version's drift baseline, per-feature samples as JSON; the version must exist.</summary>
    Task SetDriftBaselineAsync(string model, long version, string featuresJson, string uploadedBy, CancellationToken cancellationToken = default);

    /// <summary>A version's uploaded drift baseline (JSON), or null when none was uploaded.</summary>
    Task<string?> GetDriftBaselineAsync(string model, long version, CancellationToken cancellationToken = default);

    /// <summary>Every model's latest rollout state, by model.</summary>
    Task<IReadOnlyDictionary<string, string>> GetRolloutsAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets a version's state and reason; retiring goes through the same checks as <see cref="RetireVersionAsync"/>.</summary>
    Task<RegisteredVersion> SetStateAsync(string model, long version, VersionState state, string? reason, CancellationToken cancellationToken = default);

    /// <summary>Points an alias at a version, recording the change; refuses a missing, failed or retired version.</summary>
    Task SetAliasAsync(string model, string alias, long version, string changedBy, CancellationToken cancellationToken = default);

    /// <summary>Removes an alias, recording the change so a rollback can restore it.</summary>
    Task RemoveAliasAsync(string model, string alias, string changedBy, CancellationToken cancellationToken = default);

    /// <summary>The model's aliases and the versions they point at.</summary>
    Task<IReadOnlyDictionary<string, long>> GetAliasesAsync(string model, CancellationToken cancellationToken = default);

    /// <summary>The alias changes of a model, or of one of its aliases, newest first.</summary>
    Task<IReadOnlyList<AliasChange>> GetAliasHistoryAsync(string model, string? alias = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves an alias back to the version it pointed at before it was moved to the current one, skipping failed and
    /// retired versions; repeated rollbacks walk further back. Returns the version the alias now points at.
    /// </summary>
    Task<long> RollbackAliasAsync(string model, string alias, string changedBy, CancellationToken cancellationToken = default);

    /// <summary>Retires a version for good; refuses while an alias points at it.</summary>
    Task<RegisteredVersion> RetireVersionAsync(string model, long version, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a version's serving configuration (batching, instances, labels: not its artifact, which never changes),
    /// as when a repository folder's config files are edited and the model is loaded again.
    /// </summary>
    Task SetConfigAsync(string model, long version, string? configJson, CancellationToken cancellationToken = default);

    /// <summary>Replaces a version's wrapped data key (key rotation) without touching its artifact.</summary>
    Task SetWrappedKeyAsync(string model, long version, string keyId, byte[] wrappedKey, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a server-side batch job's record (JSON, see <c>Batch.BatchJob</c>) under its id, replacing the previous one;
    /// jobs are not desired state, so the revision stays.
    /// </summary>
    Task SaveBatchJobAsync(string id, string replica, string record, CancellationToken cancellationToken = default);

    /// <summary>The batch job records one replica stored, oldest first.</summary>
    Task<IReadOnlyList<string>> GetBatchJobsAsync(string replica, CancellationToken cancellationToken = default);

    /// <summary>One model, with its owner tenant, or null when it does not exist.</summary>
    Task<RegisteredModel?> GetModelAsync(string model, CancellationToken cancellationToken = default);

    /// <summary>Stores a new API key (its secret's hash only); keys are not desired state, so the revision stays.</summary>
    Task AddApiKeyAsync(Security.ApiKey key, CancellationToken cancellationToken = default);

    /// <summary>One API key by id, or null.</summary>
    Task<Security.ApiKey?> GetApiKeyAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Every API key, oldest first.</summary>
    Task<IReadOnlyList<Security.ApiKey>> GetApiKeysAsync(CancellationToken cancellationToken = default);

    /// <summary>Marks a key revoked at <paramref name="at"/> (keeping an earlier revocation); <see cref="RegistryErrorKind.NotFound"/> for an unknown id.</summary>
    Task<Security.ApiKey> RevokeApiKeyAsync(string id, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>The registry's revision: a counter bumped in the same transaction as every change.</summary>
    Task<long> GetRevisionAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Yields each revision newer than <paramref name="afterRevision"/> as changes commit (coalesced: a burst may
    /// yield only its last). Pass the revision read before loading state so no change in between is missed.
    /// Polls every <paramref name="pollInterval"/>; PostgreSQL is also woken at once by LISTEN/NOTIFY.
    /// </summary>
    IAsyncEnumerable<long> WatchAsync(long afterRevision, TimeSpan pollInterval, CancellationToken cancellationToken = default);
}
