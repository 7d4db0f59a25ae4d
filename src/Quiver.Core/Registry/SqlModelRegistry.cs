using System.Data.Common;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Quiver.Core.Registry;

/// <summary>
/// The registry in SQL both dialects share. Writers run one at a time (a database-wide lock taken when the
/// transaction begins), so check-then-act sequences such as "no alias points at it, so retire it" hold.
/// A subclass supplies connections, that lock, the change notification and the mapping of database errors.
/// </summary>
public abstract partial class SqlModelRegistry : IModelRegistry
{
    private const string VersionColumns =
        "model, version, sha256, size_bytes, framework, input_signature, output_signature, creator, created_at, description, " +
        "tags, source_uri, training_run_id, config_json, state, reason, wrapped_data_key, key_id, derived_from, optimization_report, allowed_regions";

    private const string ModelColumns = "name, description, created_at, owner_tenant";

    private const string ApiKeyColumns = "id, name, tenant, roles, secret_sha256, created_at, expires_at, revoked_at";

    private const string HistoryColumns = "model, alias, version, previous_version, changed_at, changed_by, is_rollback";

    // So an outage is logged once, not on every poll.
    private volatile bool _revisionUnreadable;

    private protected SqlModelRegistry(ILogger logger)
    {
        Logger = logger;
    }

    /// <inheritdoc />
    public abstract string Location { get; }

    private protected ILogger Logger { get; }

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <inheritdoc />
    public async Task<RegisteredVersion> RegisterVersionAsync(VersionDraft draft, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(draft);
        RegistryNames.RequireModelName(draft.Model);
        string sha256 = RegistryNames.NormalizeSha256(draft.Sha256);
        if (draft.Version is <= 0)
        {
            throw RegistryException.Invalid($"version {draft.Version} is not a positive number.");
        }

        if (draft.SizeBytes < 0)
        {
            throw RegistryException.Invalid($"the artifact size {draft.SizeBytes} is negative.");
        }

        if (string.IsNullOrWhiteSpace(draft.Framework))
        {
            throw RegistryException.Invalid("the framework is empty; say which one the artifact is for, e.g. \"onnx\".");
        }

        if (draft.Tags is null || draft.Tags.Any(string.IsNullOrEmpty))
        {
            throw RegistryException.Invalid("tags must not be null or empty.");
        }

        DateTimeOffset now = UtcNow();
        return await WriteAsync(async session =>
        {
            await session.ExecuteAsync(
                "INSERT INTO models (name, description, created_at, last_version, owner_tenant) VALUES (@name, @description, @now, 0, @tenant) " +
                "ON CONFLICT (name) DO NOTHING",
                ("name", draft.Model), ("description", draft.ModelDescription), ("now", now), ("tenant", draft.Tenant));
            if (draft.Tenant is not null)
            {
                // A model keeps the owner it was created with: a version for another tenant would hand its clients over.
                string? owner = (await session.QueryAsync("SELECT owner_tenant FROM models WHERE name = @name", r => NullableString(r, 0),
                    ("name", draft.Model))).Single();
                if (owner != draft.Tenant)
                {
                    throw RegistryException.Conflict(owner is null
                        ? $"model '{draft.Model}' is shared by every tenant; only a principal without a tenant may add versions to it."
                        : $"model '{draft.Model}' belongs to another tenant; choose another name.");
                }
            }

            // The counter, not MAX(version), so a number is never handed out twice even if rows were ever deleted.
            long version = draft.Version is { } requested
                ? await session.ScalarLongAsync(
                    "UPDATE models SET last_version = @requested WHERE name = @name AND last_version < @requested RETURNING last_version",
                    ("requested", requested), ("name", draft.Model)) ?? throw RegistryException.Conflict(
                        $"model '{draft.Model}' cannot take version {requested}: it has had versions up to " +
                        $"{await session.ScalarLongAsync("SELECT last_version FROM models WHERE name = @name", ("name", draft.Model))}, and numbers never repeat.")
                : (await session.ScalarLongAsync(
                    "UPDATE models SET last_version = last_version + 1 WHERE name = @name RETURNING last_version", ("name", draft.Model)))!.Value;

            var registered = new RegisteredVersion
            {
                Model = draft.Model,
                Version = version,
                Sha256 = sha256,
                SizeBytes = draft.SizeBytes,
                Framework = draft.Framework,
                InputSignature = draft.InputSignature,
                OutputSignature = draft.OutputSignature,
                Creator = draft.Creator,
                CreatedAt = now,
                Description = draft.Description,
                Tags = draft.Tags.ToArray(),
                SourceUri = draft.SourceUri,
                TrainingRunId = draft.TrainingRunId,
                ConfigJson = draft.ConfigJson,
                State = VersionState.Registered,
                Reason = null,
                WrappedDataKey = draft.WrappedDataKey,
                KeyId = draft.KeyId,
                AllowedRegions = draft.AllowedRegions is { Count: > 0 } regions ? regions.ToArray() : null,
                DerivedFrom = draft.DerivedFrom,
                OptimizationReport = draft.OptimizationReport,
            };

            await session.ExecuteAsync(
                $"INSERT INTO versions ({VersionColumns}) VALUES (@model, @version, @sha256, @size, @framework, @input, @output, @creator, " +
                "@createdAt, @description, @tags, @sourceUri, @trainingRunId, @config, @state, @reason, @wrappedKey, @keyId, @derivedFrom, @optimizationReport, @regions)",
                ("model", registered.Model), ("version", registered.Version), ("sha256", registered.Sha256), ("size", registered.SizeBytes),
                ("framework", registered.Framework), ("input", registered.InputSignature), ("output", registered.OutputSignature),
                ("creator", registered.Creator), ("createdAt", registered.CreatedAt), ("description", registered.Description),
                ("tags", JsonSerializer.Serialize(registered.Tags)), ("sourceUri", registered.SourceUri),
                ("trainingRunId", registered.TrainingRunId), ("config", registered.ConfigJson), ("state", ToText(registered.State)),
                ("reason", null), ("wrappedKey", registered.WrappedDataKey), ("keyId", registered.KeyId),
                ("derivedFrom", registered.DerivedFrom), ("optimizationReport", registered.OptimizationReport),
                ("regions", registered.AllowedRegions is null ? null : JsonSerializer.Serialize(registered.AllowedRegions)));
            return registered;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<RegisteredModel>> GetModelsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<RegisteredModel>>(async session =>
        {
            List<RegisteredModel> models = await session.QueryAsync($"SELECT {ModelColumns} FROM models", ReadModel);

            // Sorted here: PostgreSQL would order by the database's collation, SQLite by bytes.
            models.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return models;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<RegisteredModel?> GetModelAsync(string model, CancellationToken cancellationToken = default) =>
        ReadAsync(async session => (await session.QueryAsync($"SELECT {ModelColumns} FROM models WHERE name = @name", ReadModel,
            ("name", model))).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task AddApiKeyAsync(Security.ApiKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return WriteAsync(async session =>
        {
            session.Unchanged = true;
            await session.ExecuteAsync(
                $"INSERT INTO api_keys ({ApiKeyColumns}) VALUES (@id, @name, @tenant, @roles, @hash, @createdAt, @expiresAt, @revokedAt)",
                ("id", key.Id), ("name", key.Name), ("tenant", key.Tenant), ("roles", Security.RoleNames.Join(key.Roles)),
                ("hash", key.SecretSha256), ("createdAt", key.CreatedAt), ("expiresAt", key.ExpiresAt), ("revokedAt", key.RevokedAt));
            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<Security.ApiKey?> GetApiKeyAsync(string id, CancellationToken cancellationToken = default) =>
        ReadAsync(async session => (await session.QueryAsync($"SELECT {ApiKeyColumns} FROM api_keys WHERE id = @id", ReadApiKey,
            ("id", id))).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<Security.ApiKey>> GetApiKeysAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<Security.ApiKey>>(async session => await session.QueryAsync(
            $"SELECT {ApiKeyColumns} FROM api_keys ORDER BY created_at, id", ReadApiKey), cancellationToken);

    /// <inheritdoc />
    public Task<Security.ApiKey> RevokeApiKeyAsync(string id, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        WriteAsync(async session =>
        {
            session.Unchanged = true;
            await session.ExecuteAsync("UPDATE api_keys SET revoked_at = @at WHERE id = @id AND revoked_at IS NULL", ("at", at), ("id", id));
            return (await session.QueryAsync($"SELECT {ApiKeyColumns} FROM api_keys WHERE id = @id", ReadApiKey, ("id", id))).FirstOrDefault()
                ?? throw RegistryException.NotFound($"there is no API key with id '{id}'; 'quiver keys list' shows them.");
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<RegisteredVersion>> GetVersionsAsync(string model, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<RegisteredVersion>>(async session =>
        {
            await RequireModelAsync(session, model);
            return await session.QueryAsync(
                $"SELECT {VersionColumns} FROM versions WHERE model = @model ORDER BY version", ReadVersion, ("model", model));
        }, cancellationToken);

    /// <inheritdoc />
    public Task<RegisteredVersion?> GetVersionAsync(string model, long version, CancellationToken cancellationToken = default) =>
        ReadAsync(session => FindVersionAsync(session, model, version), cancellationToken);

    /// <inheritdoc />
    public Task<RegisteredVersion?> FindBySha256Async(string model, string sha256, CancellationToken cancellationToken = default)
    {
        string normalized = RegistryNames.NormalizeSha256(sha256);
        return ReadAsync(async session => (await session.QueryAsync(
            $"SELECT {VersionColumns} FROM versions WHERE model = @model AND sha256 = @sha256 ORDER BY version DESC LIMIT 1",
            ReadVersion, ("model", model), ("sha256", normalized))).FirstOrDefault(), cancellationToken);
    }

    /// <inheritdoc />
    public Task<RegisteredVersion?> FindArtifactAsync(string sha256, CancellationToken cancellationToken = default)
    {
        string normalized = RegistryNames.NormalizeSha256(sha256);
        return ReadAsync(async session => (await session.QueryAsync(
            $"SELECT {VersionColumns} FROM versions WHERE sha256 = @sha256 ORDER BY created_at DESC LIMIT 1",
            ReadVersion, ("sha256", normalized))).FirstOrDefault(), cancellationToken);
    }

    /// <inheritdoc />
    public Task ReportReplicaStateAsync(string replica, string model, long version, VersionState state, string? reason,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(replica);
        return WriteAsync(async session =>
        {
            // A replica's own view, not desired state: other replicas need not react, so the revision stays.
            session.Unchanged = true;
            await session.ExecuteAsync(
                "INSERT INTO replica_versions (replica, model, version, state, reason, updated_at) VALUES (@replica, @model, @version, @state, @reason, @now) " +
                "ON CONFLICT (replica, model, version) DO UPDATE SET state = excluded.state, reason = excluded.reason, updated_at = excluded.updated_at",
                ("replica", replica), ("model", model), ("version", version), ("state", ToText(state)), ("reason", reason), ("now", UtcNow()));
            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task SaveBatchJobAsync(string id, string replica, string record, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return WriteAsync(async session =>
        {
            session.Unchanged = true;
            await session.ExecuteAsync(
                "INSERT INTO batch_jobs (id, replica, record, updated_at) VALUES (@id, @replica, @record, @now) " +
                "ON CONFLICT (id) DO UPDATE SET replica = excluded.replica, record = excluded.record, updated_at = excluded.updated_at",
                ("id", id), ("replica", replica), ("record", record), ("now", UtcNow()));
            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> GetBatchJobsAsync(string replica, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<string>>(async session => await session.QueryAsync(
            "SELECT record FROM batch_jobs WHERE replica = @replica ORDER BY id", r => r.GetString(0), ("replica", replica)), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<ReplicaVersionState>> GetReplicaStatesAsync(string model, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<ReplicaVersionState>>(async session => await session.QueryAsync(
            "SELECT replica, version, state, reason, updated_at FROM replica_versions WHERE model = @model ORDER BY replica, version",
            r => new ReplicaVersionState(r.GetString(0), r.GetInt64(1), ParseState(r.GetString(2)), NullableString(r, 3), r.GetFieldValue<DateTimeOffset>(4)),
            ("model", model)), cancellationToken);

    /// <inheritdoc />
    public Task SetEndpointAsync(string name, string definitionJson, string changedBy, CancellationToken cancellationToken = default)
    {
        RegistryNames.RequireModelName(name);
        return WriteAsync(async session =>
        {
            await session.ExecuteAsync(
                "INSERT INTO endpoints (name, definition, updated_at, updated_by) VALUES (@name, @definition, @now, @by) " +
                "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                ("name", name), ("definition", definitionJson), ("now", UtcNow()), ("by", changedBy));
            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task SetRolloutAsync(string model, string stateJson, CancellationToken cancellationToken = default) =>
        WriteAsync(async session =>
        {
            await RequireModelAsync(session, model);
            await session.ExecuteAsync(
                "INSERT INTO rollouts (model, state, updated_at) VALUES (@model, @state, @now) " +
                "ON CONFLICT (model) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                ("model", model), ("state", stateJson), ("now", UtcNow()));
            return 0;
        }, cancellationToken);

    /// <inheritdoc />
    public Task SetDriftBaselineAsync(string model, long version, string featuresJson, string uploadedBy, CancellationToken cancellationToken = default) =>
        WriteAsync(async session =>
        {
            await RequireVersionAsync(session, model, version);
            await session.ExecuteAsync(
                "INSERT INTO drift_baselines (model, version, features, uploaded_at, uploaded_by) VALUES (@model, @version, @features, @now, @by) " +
                "ON CONFLICT (model, version) DO UPDATE SET features = excluded.features, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by",
                ("model", model), ("version", version), ("features", featuresJson), ("now", UtcNow()), ("by", uploadedBy));
            return 0;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<string?> GetDriftBaselineAsync(string model, long version, CancellationToken cancellationToken = default) =>
        ReadAsync(async session => (await session.QueryAsync(
            "SELECT features FROM drift_baselines WHERE model = @model AND version = @version", r => r.GetString(0),
            ("model", model), ("version", version))).FirstOrDefault(), cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, string>> GetRolloutsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyDictionary<string, string>>(async session => (await session.QueryAsync(
            "SELECT model, state FROM rollouts", r => (r.GetString(0), r.GetString(1)))).ToDictionary(e => e.Item1, e => e.Item2),
            cancellationToken);

    /// <inheritdoc />
    public Task RemoveEndpointAsync(string name, CancellationToken cancellationToken = default) =>
        WriteAsync(async session =>
        {
            if (await session.ExecuteAsync("DELETE FROM endpoints WHERE name = @name", ("name", name)) == 0)
            {
                throw RegistryException.UnknownEndpoint(name);
            }

            return 0;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, string>> GetEndpointsAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyDictionary<string, string>>(async session => (await session.QueryAsync(
            "SELECT name, definition FROM endpoints", r => (r.GetString(0), r.GetString(1)))).ToDictionary(e => e.Item1, e => e.Item2),
            cancellationToken);

    /// <inheritdoc />
    public Task<RegisteredVersion> SetStateAsync(
        string model, long version, VersionState state, string? reason, CancellationToken cancellationToken = default)
    {
        if (state == VersionState.Retired)
        {
            return RetireVersionAsync(model, version, reason, cancellationToken);
        }

        return WriteAsync(async session =>
        {
            RegisteredVersion current = await RequireVersionAsync(session, model, version);
            if (current.State == VersionState.Retired)
            {
                throw RegistryException.Conflict(
                    $"version {version} of model '{model}' is retired, which is final; register the artifact again as a new version.");
            }

            await session.ExecuteAsync(
                "UPDATE versions SET state = @state, reason = @reason WHERE model = @model AND version = @version",
                ("state", ToText(state)), ("reason", reason), ("model", model), ("version", version));
            return current with { State = state, Reason = reason };
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<RegisteredVersion> RetireVersionAsync(string model, long version, string? reason = null, CancellationToken cancellationToken = default) =>
        WriteAsync(async session =>
        {
            RegisteredVersion current = await RequireVersionAsync(session, model, version);
            if (current.State == VersionState.Retired)
            {
                session.Unchanged = true;
                return current;
            }

            List<string> aliases = await session.QueryAsync(
                "SELECT alias FROM aliases WHERE model = @model AND version = @version ORDER BY alias",
                r => r.GetString(0), ("model", model), ("version", version));
            if (aliases.Count > 0)
            {
                throw RegistryException.Conflict(
                    $"version {version} of model '{model}' cannot be retired while alias {string.Join(", ", aliases.Select(a => $"'{a}'"))} " +
                    "points at it; move or remove the alias first.");
            }

            reason ??= "retired";
            await session.ExecuteAsync(
                "UPDATE versions SET state = @state, reason = @reason WHERE model = @model AND version = @version",
                ("state", ToText(VersionState.Retired)), ("reason", reason), ("model", model), ("version", version));
            return current with { State = VersionState.Retired, Reason = reason };
        }, cancellationToken);

    /// <inheritdoc />
    public Task SetAliasAsync(string model, string alias, long version, string changedBy, CancellationToken cancellationToken = default)
    {
        RegistryNames.RequireAliasName(alias);
        ArgumentNullException.ThrowIfNull(changedBy);
        return WriteAsync(async session =>
        {
            RegisteredVersion target = await RequireVersionAsync(session, model, version);
            if (target.State is VersionState.Failed or VersionState.Retired)
            {
                throw RegistryException.Conflict(
                    $"alias '{alias}' cannot point at version {version} of model '{model}': it is {ToText(target.State)}" +
                    (target.Reason is null ? "." : $" ({target.Reason})."));
            }

            long? current = await CurrentAliasVersionAsync(session, model, alias);
            if (current == version)
            {
                session.Unchanged = true;
                return 0;
            }

            await MoveAliasAsync(session, model, alias, version, current, changedBy, isRollback: false);
            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task RemoveAliasAsync(string model, string alias, string changedBy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changedBy);
        return WriteAsync(async session =>
        {
            await RequireModelAsync(session, model);
            long current = await CurrentAliasVersionAsync(session, model, alias)
                ?? throw RegistryException.NotFound($"model '{model}' has no alias '{alias}'.");
            await session.ExecuteAsync("DELETE FROM aliases WHERE model = @model AND alias = @alias", ("model", model), ("alias", alias));
            await AddHistoryAsync(session, model, alias, null, current, changedBy, isRollback: false);
            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, long>> GetAliasesAsync(string model, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyDictionary<string, long>>(async session =>
        {
            await RequireModelAsync(session, model);
            List<(string Alias, long Version)> rows = await session.QueryAsync(
                "SELECT alias, version FROM aliases WHERE model = @model", r => (r.GetString(0), r.GetInt64(1)), ("model", model));
            return rows.ToDictionary(r => r.Alias, r => r.Version, StringComparer.Ordinal);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<AliasChange>> GetAliasHistoryAsync(string model, string? alias = null, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<AliasChange>>(async session =>
        {
            await RequireModelAsync(session, model);

            // Two statements rather than "@alias IS NULL OR ...": PostgreSQL cannot type a parameter that is only compared with NULL.
            return alias is null
                ? await session.QueryAsync(
                    $"SELECT {HistoryColumns} FROM alias_history WHERE model = @model ORDER BY id DESC", ReadAliasChange, ("model", model))
                : await session.QueryAsync(
                    $"SELECT {HistoryColumns} FROM alias_history WHERE model = @model AND alias = @alias ORDER BY id DESC",
                    ReadAliasChange, ("model", model), ("alias", alias));
        }, cancellationToken);

    /// <inheritdoc />
    public Task<long> RollbackAliasAsync(string model, string alias, string changedBy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changedBy);
        return WriteAsync(async session =>
        {
            await RequireModelAsync(session, model);
            List<AliasChange> history = await session.QueryAsync(
                $"SELECT {HistoryColumns} FROM alias_history WHERE model = @model AND alias = @alias ORDER BY id",
                ReadAliasChange, ("model", model), ("alias", alias));
            if (history.Count == 0)
            {
                throw RegistryException.NotFound($"model '{model}' has no alias '{alias}'.");
            }

            Dictionary<long, VersionState> states = (await session.QueryAsync(
                "SELECT version, state FROM versions WHERE model = @model",
                r => (Version: r.GetInt64(0), State: ParseState(r.GetString(1))), ("model", model)))
                .ToDictionary(v => v.Version, v => v.State);

            List<long?> pointedAt = AliasStack(history);
            long? current = pointedAt[^1];
            pointedAt.RemoveAt(pointedAt.Count - 1);
            var skipped = new List<long>();
            while (pointedAt.Count > 0)
            {
                long? candidate = pointedAt[^1];
                if (candidate is long version && version != current)
                {
                    if (states.TryGetValue(version, out VersionState state) && state is not (VersionState.Failed or VersionState.Retired))
                    {
                        await MoveAliasAsync(session, model, alias, version, current, changedBy, isRollback: true);
                        return version;
                    }

                    skipped.Add(version);
                }

                pointedAt.RemoveAt(pointedAt.Count - 1);
            }

            throw RegistryException.Conflict(
                $"alias '{alias}' of model '{model}' has no earlier version to roll back to" +
                (skipped.Count == 0 ? "." : $" (skipped failed or retired version {string.Join(", ", skipped.Distinct())})."));
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task SetConfigAsync(string model, long version, string? configJson, CancellationToken cancellationToken = default) =>
        WriteAsync(async session =>
        {
            RegisteredVersion current = await RequireVersionAsync(session, model, version);
            if (current.ConfigJson == configJson)
            {
                session.Unchanged = true;
                return 0;
            }

            await session.ExecuteAsync(
                "UPDATE versions SET config_json = @config WHERE model = @model AND version = @version",
                ("config", configJson), ("model", model), ("version", version));
            return 0;
        }, cancellationToken);

    /// <inheritdoc />
    public Task SetWrappedKeyAsync(string model, long version, string keyId, byte[] wrappedKey, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(keyId) || wrappedKey is null || wrappedKey.Length == 0)
        {
            throw RegistryException.Invalid("a wrapped data key needs a key id and non-empty key bytes.");
        }

        return WriteAsync(async session =>
        {
            int updated = await session.ExecuteAsync(
                "UPDATE versions SET wrapped_data_key = @wrappedKey, key_id = @keyId WHERE model = @model AND version = @version",
                ("wrappedKey", wrappedKey), ("keyId", keyId), ("model", model), ("version", version));
            if (updated == 0)
            {
                await RequireVersionAsync(session, model, version);
            }

            return 0;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<long> GetRevisionAsync(CancellationToken cancellationToken = default) =>
        ReadAsync(async session => (await session.ScalarLongAsync("SELECT revision FROM registry_state WHERE id = 1"))!.Value, cancellationToken);

    /// <inheritdoc />
    public virtual async IAsyncEnumerable<long> WatchAsync(
        long afterRevision, TimeSpan pollInterval, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        RequirePositive(pollInterval);
        long last = afterRevision;
        while (true)
        {
            long? current = await TryGetRevisionAsync(cancellationToken);
            if (current > last)
            {
                last = current.Value;
                yield return last;
            }
            else
            {
                await Task.Delay(pollInterval, cancellationToken);
            }
        }
    }

    /// <summary>Opens a connection; a failure to reach the database is thrown as <see cref="RegistryErrorKind.Unavailable"/>.</summary>
    private protected abstract ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>Begins a transaction holding the database-wide write lock, waiting for it if another writer has it.</summary>
    private protected abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Called inside a write transaction, after the revision was bumped, before the commit.</summary>
    private protected virtual Task OnChangeAsync(SqlSession session, long revision) => Task.CompletedTask;

    /// <summary>What callers are told about a database error; null leaves it as it is (a bug, not a caller's problem).</summary>
    private protected abstract RegistryException? Translate(Exception exception);

    /// <summary>Brings the schema up to date in one transaction; refuses a schema newer than this build knows.</summary>
    private protected async Task MigrateAsync(IReadOnlyList<RegistryMigration> migrations, string createMigrationsTable, CancellationToken cancellationToken)
    {
        int known = migrations[^1].Version;
        try
        {
            await using DbConnection connection = await OpenConnectionAsync(cancellationToken);
            await using DbTransaction transaction = await BeginWriteAsync(connection, cancellationToken);
            var session = new SqlSession(connection, transaction, cancellationToken);
            await session.ExecuteAsync(createMigrationsTable);
            HashSet<long> applied = (await session.QueryAsync("SELECT version FROM schema_migrations", r => Convert.ToInt64(r.GetValue(0),
                System.Globalization.CultureInfo.InvariantCulture))).ToHashSet();
            long current = applied.Count == 0 ? 0 : applied.Max();
            if (current > known)
            {
                throw RegistryException.Conflict(
                    $"the registry database {Location} has schema version {current}, newer than the {known} this Quiver knows: " +
                    "it was migrated by a newer Quiver. Upgrade Quiver, or point --registry at another database.");
            }

            // Every migration not applied yet, not only those above the highest applied: numbers are handed out to
            // work merged in any order, so a database may have 10 and still lack 6.
            foreach (RegistryMigration migration in migrations.Where(m => !applied.Contains(m.Version)))
            {
                await session.ExecuteAsync(migration.Sql);
                await session.ExecuteAsync(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (@version, @now)", ("version", migration.Version), ("now", UtcNow()));
                Log.MigrationApplied(Logger, Location, migration.Version);
            }

            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception e) when (Translate(e) is { } mapped)
        {
            throw mapped;
        }

        Log.Opened(Logger, Location, known);
    }

    /// <summary>The revision, or null when the database cannot be reached right now (logged once per outage).</summary>
    private protected async Task<long?> TryGetRevisionAsync(CancellationToken cancellationToken)
    {
        try
        {
            long revision = await GetRevisionAsync(cancellationToken);
            if (_revisionUnreadable)
            {
                _revisionUnreadable = false;
                Log.RevisionReadable(Logger, Location);
            }

            return revision;
        }
        catch (RegistryException e) when (e.Kind == RegistryErrorKind.Unavailable)
        {
            if (!_revisionUnreadable)
            {
                _revisionUnreadable = true;
                Log.RevisionUnreadable(Logger, Location, e.Message);
            }

            return null;
        }
    }

    private protected static void RequirePositive(TimeSpan pollInterval)
    {
        if (pollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(pollInterval), pollInterval, "The poll interval must be positive.");
        }
    }

    // Microseconds: PostgreSQL keeps no finer, and a record should read back equal to what was returned.
    private protected static DateTimeOffset UtcNow()
    {
        long ticks = DateTimeOffset.UtcNow.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % 10), TimeSpan.Zero);
    }

    private async Task<T> WriteAsync<T>(Func<SqlSession, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            await using DbConnection connection = await OpenConnectionAsync(cancellationToken);
            await using DbTransaction transaction = await BeginWriteAsync(connection, cancellationToken);
            var session = new SqlSession(connection, transaction, cancellationToken);
            T result = await work(session);
            if (!session.Unchanged)
            {
                long revision = (await session.ScalarLongAsync("UPDATE registry_state SET revision = revision + 1 WHERE id = 1 RETURNING revision"))!.Value;
                await OnChangeAsync(session, revision);
            }

            await transaction.CommitAsync(cancellationToken);
            return result;
        }
        catch (Exception e) when (Translate(e) is { } mapped)
        {
            throw mapped;
        }
    }

    private async Task<T> ReadAsync<T>(Func<SqlSession, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            await using DbConnection connection = await OpenConnectionAsync(cancellationToken);
            return await work(new SqlSession(connection, null, cancellationToken));
        }
        catch (Exception e) when (Translate(e) is { } mapped)
        {
            throw mapped;
        }
    }

    private static async Task RequireModelAsync(SqlSession session, string model)
    {
        if (await session.ScalarLongAsync("SELECT 1 FROM models WHERE name = @model", ("model", model)) is null)
        {
            throw RegistryException.UnknownModel(model);
        }
    }

    private static async Task<RegisteredVersion?> FindVersionAsync(SqlSession session, string model, long version) =>
        (await session.QueryAsync(
            $"SELECT {VersionColumns} FROM versions WHERE model = @model AND version = @version",
            ReadVersion, ("model", model), ("version", version))).FirstOrDefault();

    private static async Task<RegisteredVersion> RequireVersionAsync(SqlSession session, string model, long version)
    {
        RegisteredVersion? found = await FindVersionAsync(session, model, version);
        if (found is null)
        {
            await RequireModelAsync(session, model);
            throw RegistryException.NotFound($"model '{model}' has no version {version}.");
        }

        return found;
    }

    private static Task<long?> CurrentAliasVersionAsync(SqlSession session, string model, string alias) =>
        session.ScalarLongAsync("SELECT version FROM aliases WHERE model = @model AND alias = @alias", ("model", model), ("alias", alias));

    private static async Task MoveAliasAsync(
        SqlSession session, string model, string alias, long version, long? previous, string changedBy, bool isRollback)
    {
        await session.ExecuteAsync(
            "INSERT INTO aliases (model, alias, version) VALUES (@model, @alias, @version) " +
            "ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version",
            ("model", model), ("alias", alias), ("version", version));
        await AddHistoryAsync(session, model, alias, version, previous, changedBy, isRollback);
    }

    private static Task AddHistoryAsync(
        SqlSession session, string model, string alias, long? version, long? previous, string changedBy, bool isRollback) =>
        session.ExecuteAsync(
            "INSERT INTO alias_history (model, alias, version, previous_version, is_rollback, changed_at, changed_by) " +
            "VALUES (@model, @alias, @version, @previous, @isRollback, @now, @changedBy)",
            ("model", model), ("alias", alias), ("version", version), ("previous", previous), ("isRollback", isRollback),
            ("now", UtcNow()), ("changedBy", changedBy));

    /// <summary>
    /// Replays an alias's history (oldest first) into the versions it pointed at, the current one last (null when
    /// removed). A rollback pops back to the version it chose, so rolling back twice walks further back instead of
    /// returning to the version the first rollback left.
    /// </summary>
    private static List<long?> AliasStack(List<AliasChange> history)
    {
        var stack = new List<long?>();
        foreach (AliasChange change in history)
        {
            if (change.IsRollback)
            {
                while (stack.Count > 0 && stack[^1] != change.Version)
                {
                    stack.RemoveAt(stack.Count - 1);
                }

                if (stack.Count == 0)
                {
                    stack.Add(change.Version);
                }
            }
            else
            {
                stack.Add(change.Version);
            }
        }

        return stack;
    }

    private static RegisteredVersion ReadVersion(DbDataReader r) => new()
    {
        Model = r.GetString(0),
        Version = r.GetInt64(1),
        Sha256 = r.GetString(2),
        SizeBytes = r.GetInt64(3),
        Framework = r.GetString(4),
        InputSignature = NullableString(r, 5),
        OutputSignature = NullableString(r, 6),
        Creator = NullableString(r, 7),
        CreatedAt = r.GetFieldValue<DateTimeOffset>(8),
        Description = NullableString(r, 9),
        Tags = JsonSerializer.Deserialize<string[]>(r.GetString(10)) ?? [],
        SourceUri = NullableString(r, 11),
        TrainingRunId = NullableString(r, 12),
        ConfigJson = NullableString(r, 13),
        State = ParseState(r.GetString(14)),
        Reason = NullableString(r, 15),
        WrappedDataKey = r.IsDBNull(16) ? null : r.GetFieldValue<byte[]>(16),
        KeyId = NullableString(r, 17),
        DerivedFrom = r.IsDBNull(18) ? null : r.GetInt64(18),
        OptimizationReport = NullableString(r, 19),
        AllowedRegions = r.IsDBNull(20) ? null : JsonSerializer.Deserialize<string[]>(r.GetString(20)),
    };

    private static AliasChange ReadAliasChange(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.IsDBNull(2) ? null : r.GetInt64(2),
        r.IsDBNull(3) ? null : r.GetInt64(3),
        r.GetFieldValue<DateTimeOffset>(4),
        r.GetString(5),
        r.GetBoolean(6));

    private static RegisteredModel ReadModel(DbDataReader r) =>
        new(r.GetString(0), NullableString(r, 1), r.GetFieldValue<DateTimeOffset>(2)) { Tenant = NullableString(r, 3) };

    private static Security.ApiKey ReadApiKey(DbDataReader r) => new()
    {
        Id = r.GetString(0),
        Name = r.GetString(1),
        Tenant = NullableString(r, 2),
        Roles = Security.RoleNames.Split(r.GetString(3)),
        SecretSha256 = r.GetString(4),
        CreatedAt = r.GetFieldValue<DateTimeOffset>(5),
        ExpiresAt = r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6),
        RevokedAt = r.IsDBNull(7) ? null : r.GetFieldValue<DateTimeOffset>(7),
    };

    private static string? NullableString(DbDataReader r, int ordinal) => r.IsDBNull(ordinal) ? null : r.GetString(ordinal);

    private static string ToText(VersionState state) => state switch
    {
        VersionState.Registered => "registered",
        VersionState.Loading => "loading",
        VersionState.Ready => "ready",
        VersionState.Failed => "failed",
        VersionState.Retired => "retired",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Unknown version state."),
    };

    private static VersionState ParseState(string text) => text switch
    {
        "registered" => VersionState.Registered,
        "loading" => VersionState.Loading,
        "ready" => VersionState.Ready,
        "failed" => VersionState.Failed,
        "retired" => VersionState.Retired,
        _ => throw new InvalidDataException($"The registry holds an unknown version state '{text}'."),
    };

    private protected static partial class Log
    {
        [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Model registry {Location} is open at schema version {SchemaVersion}")]
        public static partial void Opened(ILogger logger, string location, int schemaVersion);

        [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Model registry {Location}: applied schema migration {Version}")]
        public static partial void MigrationApplied(ILogger logger, string location, int version);

        [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "Model registry {Location} cannot be read; watchers keep polling: {Error}")]
        public static partial void RevisionUnreadable(ILogger logger, string location, string error);

        [LoggerMessage(EventId = 403, Level = LogLevel.Information, Message = "Model registry {Location} can be read again")]
        public static partial void RevisionReadable(ILogger logger, string location);

        [LoggerMessage(EventId = 404, Level = LogLevel.Warning,
            Message = "Model registry {Location}: change notifications lost, polling every {PollInterval} until they are back: {Error}")]
        public static partial void NotificationsLost(ILogger logger, string location, TimeSpan pollInterval, string error);

        [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "Model registry {Location}: change notifications are back")]
        public static partial void NotificationsRestored(ILogger logger, string location);
    }
}
