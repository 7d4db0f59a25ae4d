using System.Security.Cryptography;
using Quiver.Core.Registry;

namespace Quiver.Core.Tests.Registry;

/// <summary>
/// The behaviour every <see cref="IModelRegistry"/> must have, run against each implementation on a real database
/// of its own per test. A subclass says how to open a registry on that database and how to run raw SQL on it.
/// </summary>
public abstract class RegistryContractTests : IAsyncLifetime
{
    // Generous: the machine running the tests may be slow and busy; a pass is usually a few milliseconds.
    private static readonly TimeSpan s_watchTimeout = TimeSpan.FromSeconds(15);

    private readonly List<IModelRegistry> _opened = [];

    /// <summary>How often the watch test polls; PostgreSQL uses a long one so only NOTIFY can wake it in time.</summary>
    protected abstract TimeSpan WatchPollInterval { get; }

    /// <summary>Opens another registry instance on this test's database; skips the test when it cannot exist here.</summary>
    protected abstract Task<IModelRegistry> OpenRegistryAsync();

    /// <summary>Runs SQL directly on this test's database and returns the first column of the first row.</summary>
    protected abstract Task<object?> ExecuteSqlAsync(string sql);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (IModelRegistry registry in _opened)
        {
            await registry.DisposeAsync();
        }
    }

    /// <summary>Opens another registry instance on this test's database, disposed with the test.</summary>
    protected async Task<IModelRegistry> OpenAsync()
    {
        IModelRegistry registry = await OpenRegistryAsync();
        _opened.Add(registry);
        return registry;
    }

    private static VersionDraft Draft(string model = "resnet", string? sha256 = null) => new()
    {
        Model = model,
        Sha256 = sha256 ?? RandomSha256(),
        SizeBytes = 1234,
    };

    private static string RandomSha256() => Convert.ToHexStringLower(SHA256.HashData(Guid.NewGuid().ToByteArray()));

    private static async Task<RegistryException> ThrowsRegistryAsync(RegistryErrorKind kind, Func<Task> action)
    {
        RegistryException e = await Assert.ThrowsAsync<RegistryException>(action);
        Assert.Equal(kind, e.Kind);
        return e;
    }

    [SkippableFact]
    public async Task RegisterVersion_NumbersFromOnePerModel_AndReadsBackEveryField()
    {
        IModelRegistry registry = await OpenAsync();
        var draft = new VersionDraft
        {
            Model = "resnet",
            Sha256 = RandomSha256().ToUpperInvariant(),
            SizeBytes = 98_765,
            InputSignature = """[{"name":"input","datatype":"FP32","shape":[-1,3]}]""",
            OutputSignature = """[{"name":"output","datatype":"FP32","shape":[-1,3]}]""",
            Creator = "alice",
            Description = "first cut",
            Tags = ["vision", "baseline"],
            SourceUri = "s3://models/resnet/1.onnx",
            TrainingRunId = "run-42",
            ConfigJson = """{"max_batch_size":8}""",
            WrappedDataKey = [1, 2, 3],
            KeyId = "kek-1",
            ModelDescription = "image classifier",
        };

        RegisteredVersion first = await registry.RegisterVersionAsync(draft);
        RegisteredVersion second = await registry.RegisterVersionAsync(Draft("resnet"));
        RegisteredVersion other = await registry.RegisterVersionAsync(Draft("bert"));

        Assert.Equal((1, 2, 1), (first.Version, second.Version, other.Version));
        Assert.Equal(draft.Sha256.ToLowerInvariant(), first.Sha256);
        Assert.Equal(VersionState.Registered, first.State);
        Assert.Equal(TimeSpan.Zero, first.CreatedAt.Offset);
        RegisteredVersion read = (await registry.GetVersionAsync("resnet", 1))!;
        Assert.Equal(first with { Tags = [], WrappedDataKey = null }, read with { Tags = [], WrappedDataKey = null });
        Assert.Equal(["vision", "baseline"], read.Tags);
        Assert.Equal([1, 2, 3], read.WrappedDataKey!);
        Assert.Equal("onnx", read.Framework);
    }

    [SkippableFact]
    public async Task DriftBaseline_IsStoredPerVersion_ReplacedOnUpload_AndNeedsTheVersion()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("watched"));

        Assert.Null(await registry.GetDriftBaselineAsync("watched", 1));
        await registry.SetDriftBaselineAsync("watched", 1, """{"features":{"input[0]":[1]}}""", "alice");
        await registry.SetDriftBaselineAsync("watched", 1, """{"features":{"input[0]":[2]}}""", "bob");

        Assert.Equal("""{"features":{"input[0]":[2]}}""", await registry.GetDriftBaselineAsync("watched", 1));
        var missing = await Assert.ThrowsAsync<RegistryException>(() => registry.SetDriftBaselineAsync("watched", 9, "{}", "alice"));
        Assert.Equal(RegistryErrorKind.NotFound, missing.Kind);
    }

    [SkippableFact]
    public async Task RegisterVersion_DerivedVersion_ReadsBackItsLineageAndReport()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("mlp"));
        const string report = """{"mode":"int8-dynamic","size_ratio":0.25}""";

        RegisteredVersion derived = await registry.RegisterVersionAsync(Draft("mlp") with { DerivedFrom = 1, OptimizationReport = report });

        RegisteredVersion read = (await registry.GetVersionAsync("mlp", derived.Version))!;
        Assert.Equal((1L, report), (read.DerivedFrom, read.OptimizationReport));
        Assert.Null((await registry.GetVersionAsync("mlp", 1))!.DerivedFrom);
    }

    [SkippableFact]
    public async Task RegisterVersion_ConcurrentlyFromTwoInstances_HandsOutEveryNumberOnce()
    {
        IModelRegistry a = await OpenAsync();
        IModelRegistry b = await OpenAsync();
        long revisionBefore = await a.GetRevisionAsync();

        RegisteredVersion[] registered = await Task.WhenAll(Enumerable.Range(0, 16)
            .Select(i => Task.Run(() => (i % 2 == 0 ? a : b).RegisterVersionAsync(Draft("busy")))));

        Assert.Equal(Enumerable.Range(1, 16).Select(v => (long)v), registered.Select(v => v.Version).Order());
        Assert.Equal(16, (await b.GetVersionsAsync("busy")).Count);
        Assert.Equal(revisionBefore + 16, await a.GetRevisionAsync());
    }

    [SkippableFact]
    public async Task RegisterVersion_BadChecksumOrName_IsInvalid()
    {
        IModelRegistry registry = await OpenAsync();

        RegistryException sha = await ThrowsRegistryAsync(RegistryErrorKind.Invalid, () => registry.RegisterVersionAsync(Draft(sha256: "abc123")));
        Assert.Contains("SHA-256", sha.Message);
        RegistryException name = await ThrowsRegistryAsync(RegistryErrorKind.Invalid, () => registry.RegisterVersionAsync(Draft("../etc")));
        Assert.Contains("'../etc'", name.Message);
        await ThrowsRegistryAsync(RegistryErrorKind.Invalid, () => registry.RegisterVersionAsync(Draft() with { SizeBytes = -1 }));
        Assert.Empty(await registry.GetModelsAsync());
    }

    [SkippableFact]
    public async Task GetModels_ListsEachModelOnceInNameOrder_WithTheDescriptionItWasCreatedWith()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("zeta") with { ModelDescription = "last" });
        await registry.RegisterVersionAsync(Draft("alpha") with { ModelDescription = "first" });
        await registry.RegisterVersionAsync(Draft("alpha") with { ModelDescription = "ignored" });

        IReadOnlyList<RegisteredModel> models = await registry.GetModelsAsync();

        Assert.Equal(["alpha", "zeta"], models.Select(m => m.Name));
        Assert.Equal("first", models[0].Description);
    }

    [SkippableFact]
    public async Task Lookups_OfAnUnknownModelOrVersion_AreNotFoundOrNull()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("known"));

        RegistryException e = await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.GetVersionsAsync("missing"));
        Assert.Contains("'missing'", e.Message);
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.GetAliasesAsync("missing"));
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.GetAliasHistoryAsync("missing"));
        Assert.Null(await registry.GetVersionAsync("known", 2));
        Assert.Null(await registry.GetVersionAsync("missing", 1));
    }

    [SkippableFact]
    public async Task FindBySha256_ReturnsTheNewestVersionWithThoseBytes_OnlyForThatModel()
    {
        IModelRegistry registry = await OpenAsync();
        string sha = RandomSha256();
        await registry.RegisterVersionAsync(Draft("m", sha));
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.RegisterVersionAsync(Draft("m", sha));
        await registry.RegisterVersionAsync(Draft("other", sha));

        Assert.Equal(3, (await registry.FindBySha256Async("m", sha.ToUpperInvariant()))!.Version);
        Assert.Null(await registry.FindBySha256Async("m", RandomSha256()));
        Assert.Null(await registry.FindBySha256Async("nobody", sha));
    }

    [SkippableFact]
    public async Task SetState_RecordsStateAndReason_AndRetiredIsFinal()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("m"));

        await registry.SetStateAsync("m", 1, VersionState.Loading, null);
        RegisteredVersion failed = await registry.SetStateAsync("m", 1, VersionState.Failed, "input 'x' has no shape");

        Assert.Equal((VersionState.Failed, "input 'x' has no shape"), (failed.State, failed.Reason));
        RegisteredVersion read = (await registry.GetVersionAsync("m", 1))!;
        Assert.Equal((VersionState.Failed, "input 'x' has no shape"), (read.State, read.Reason));

        await registry.SetStateAsync("m", 1, VersionState.Retired, "superseded");
        Assert.Equal("superseded", (await registry.GetVersionAsync("m", 1))!.Reason);
        RegistryException e = await ThrowsRegistryAsync(RegistryErrorKind.Conflict, () => registry.SetStateAsync("m", 1, VersionState.Ready, null));
        Assert.Contains("retired", e.Message);
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.SetStateAsync("m", 9, VersionState.Ready, null));
    }

    [SkippableFact]
    public async Task SetAlias_SetAndMove_AreCurrentAndInTheHistoryNewestFirst()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.RegisterVersionAsync(Draft("m"));

        await registry.SetAliasAsync("m", "production", 1, "alice");
        await registry.SetAliasAsync("m", "staging", 2, "bob");
        await registry.SetAliasAsync("m", "production", 2, "carol");

        Assert.Equal(new Dictionary<string, long> { ["production"] = 2, ["staging"] = 2 }, await registry.GetAliasesAsync("m"));
        IReadOnlyList<AliasChange> history = await registry.GetAliasHistoryAsync("m", "production");
        Assert.Equal([(2L, 1L, "carol"), (1L, (long?)null, "alice")], history.Select(h => (h.Version, h.PreviousVersion, h.ChangedBy)));
        Assert.All(history, h => Assert.False(h.IsRollback));
        Assert.Equal(3, (await registry.GetAliasHistoryAsync("m")).Count);
    }

    [SkippableFact]
    public async Task SetAlias_ToTheVersionItAlreadyHas_ChangesNothing()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.SetAliasAsync("m", "production", 1, "alice");
        long revision = await registry.GetRevisionAsync();

        await registry.SetAliasAsync("m", "production", 1, "alice");

        Assert.Equal(revision, await registry.GetRevisionAsync());
        Assert.Single(await registry.GetAliasHistoryAsync("m", "production"));
    }

    [SkippableFact]
    public async Task SetAlias_ToAMissingFailedOrRetiredVersion_IsRefusedNamingWhy()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.SetStateAsync("m", 1, VersionState.Failed, "bad opset");
        await registry.RetireVersionAsync("m", 2);

        RegistryException missing = await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.SetAliasAsync("m", "production", 7, "alice"));
        Assert.Contains("no version 7", missing.Message);
        RegistryException failed = await ThrowsRegistryAsync(RegistryErrorKind.Conflict, () => registry.SetAliasAsync("m", "production", 1, "alice"));
        Assert.Contains("failed", failed.Message);
        Assert.Contains("bad opset", failed.Message);
        RegistryException retired = await ThrowsRegistryAsync(RegistryErrorKind.Conflict, () => registry.SetAliasAsync("m", "production", 2, "alice"));
        Assert.Contains("retired", retired.Message);
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.SetAliasAsync("nobody", "production", 1, "alice"));
        await ThrowsRegistryAsync(RegistryErrorKind.Invalid, () => registry.SetAliasAsync("m", "42", 1, "alice"));
        Assert.Empty(await registry.GetAliasesAsync("m"));
    }

    [SkippableFact]
    public async Task Rollback_MovesBackOneChangeAtATime_ThenHasNoEarlierVersion()
    {
        IModelRegistry registry = await OpenAsync();
        for (int i = 0; i < 3; i++)
        {
            await registry.RegisterVersionAsync(Draft("m"));
        }

        await registry.SetAliasAsync("m", "production", 1, "alice");
        await registry.SetAliasAsync("m", "production", 2, "alice");
        await registry.SetAliasAsync("m", "production", 3, "alice");

        Assert.Equal(2, await registry.RollbackAliasAsync("m", "production", "bob"));
        Assert.Equal(1, await registry.RollbackAliasAsync("m", "production", "bob"));
        RegistryException e = await ThrowsRegistryAsync(RegistryErrorKind.Conflict, () => registry.RollbackAliasAsync("m", "production", "bob"));
        Assert.Contains("no earlier version", e.Message);

        Assert.Equal(1, (await registry.GetAliasesAsync("m"))["production"]);
        AliasChange last = (await registry.GetAliasHistoryAsync("m", "production"))[0];
        Assert.Equal((1L, 2L, "bob", true), (last.Version!.Value, last.PreviousVersion!.Value, last.ChangedBy, last.IsRollback));
    }

    [SkippableFact]
    public async Task Rollback_OfANewAlias_HasNoEarlierVersion_AndOfAnUnknownAlias_IsNotFound()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.SetAliasAsync("m", "production", 1, "alice");

        RegistryException e = await ThrowsRegistryAsync(RegistryErrorKind.Conflict, () => registry.RollbackAliasAsync("m", "production", "bob"));
        Assert.Contains("no earlier version", e.Message);
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.RollbackAliasAsync("m", "staging", "bob"));
    }

    [SkippableFact]
    public async Task Rollback_SkipsFailedAndRetiredVersions()
    {
        IModelRegistry registry = await OpenAsync();
        for (int i = 0; i < 4; i++)
        {
            await registry.RegisterVersionAsync(Draft("m"));
        }

        for (long v = 1; v <= 4; v++)
        {
            await registry.SetAliasAsync("m", "production", v, "alice");
        }

        await registry.RetireVersionAsync("m", 3);
        await registry.SetStateAsync("m", 2, VersionState.Failed, "crashed");

        Assert.Equal(1, await registry.RollbackAliasAsync("m", "production", "bob"));
    }

    [SkippableFact]
    public async Task Rollback_AfterRemove_RestoresTheAlias()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.SetAliasAsync("m", "production", 1, "alice");

        await registry.RemoveAliasAsync("m", "production", "bob");
        Assert.Empty(await registry.GetAliasesAsync("m"));
        Assert.Null((await registry.GetAliasHistoryAsync("m", "production"))[0].Version);

        Assert.Equal(1, await registry.RollbackAliasAsync("m", "production", "carol"));
        Assert.Equal(1, (await registry.GetAliasesAsync("m"))["production"]);
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.RemoveAliasAsync("m", "staging", "bob"));
    }

    [SkippableFact]
    public async Task Retire_WhileAnAliasPointsAtIt_IsRefusedNamingTheAlias()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.SetAliasAsync("m", "production", 1, "alice");

        RegistryException e = await ThrowsRegistryAsync(RegistryErrorKind.Conflict, () => registry.RetireVersionAsync("m", 1));
        Assert.Contains("'production'", e.Message);
        Assert.Equal(VersionState.Registered, (await registry.GetVersionAsync("m", 1))!.State);

        await registry.SetAliasAsync("m", "production", 2, "alice");
        RegisteredVersion retired = await registry.RetireVersionAsync("m", 1, "replaced by 2");
        Assert.Equal((VersionState.Retired, "replaced by 2"), (retired.State, retired.Reason));
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.RetireVersionAsync("m", 5));
    }

    [SkippableFact]
    public async Task SetWrappedKey_ReplacesKeyAndKeyId_AndNothingElse()
    {
        IModelRegistry registry = await OpenAsync();
        RegisteredVersion registered = await registry.RegisterVersionAsync(Draft("m") with { WrappedDataKey = [1], KeyId = "old" });

        await registry.SetWrappedKeyAsync("m", 1, "new", [9, 8, 7]);

        RegisteredVersion read = (await registry.GetVersionAsync("m", 1))!;
        Assert.Equal("new", read.KeyId);
        Assert.Equal([9, 8, 7], read.WrappedDataKey!);
        Assert.Equal(registered with { Tags = [], WrappedDataKey = null, KeyId = null }, read with { Tags = [], WrappedDataKey = null, KeyId = null });
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.SetWrappedKeyAsync("m", 2, "new", [1]));
    }

    [SkippableFact]
    public async Task Revision_IsBumpedByEachChange_AndNotByFailedOnes()
    {
        IModelRegistry registry = await OpenAsync();
        long start = await registry.GetRevisionAsync();

        await registry.RegisterVersionAsync(Draft("m"));
        Assert.Equal(start + 1, await registry.GetRevisionAsync());
        await registry.SetStateAsync("m", 1, VersionState.Ready, null);
        Assert.Equal(start + 2, await registry.GetRevisionAsync());
        await registry.SetAliasAsync("m", "production", 1, "alice");
        Assert.Equal(start + 3, await registry.GetRevisionAsync());
        await registry.SetWrappedKeyAsync("m", 1, "k2", [1]);
        Assert.Equal(start + 4, await registry.GetRevisionAsync());
        await registry.RemoveAliasAsync("m", "production", "alice");
        Assert.Equal(start + 5, await registry.GetRevisionAsync());
        await registry.RetireVersionAsync("m", 1);
        Assert.Equal(start + 6, await registry.GetRevisionAsync());

        await Assert.ThrowsAsync<RegistryException>(() => registry.SetAliasAsync("m", "production", 1, "alice"));
        Assert.Equal(start + 6, await registry.GetRevisionAsync());
    }

    [SkippableFact]
    public async Task Watch_YieldsNewRevisions_OfChangesMadeThroughAnotherInstance()
    {
        IModelRegistry watcher = await OpenAsync();
        IModelRegistry writer = await OpenAsync();
        long start = await watcher.GetRevisionAsync();
        using var stop = new CancellationTokenSource();
        await using IAsyncEnumerator<long> revisions = watcher.WatchAsync(start, WatchPollInterval, stop.Token).GetAsyncEnumerator(stop.Token);

        Task<bool> first = revisions.MoveNextAsync().AsTask();
        await writer.RegisterVersionAsync(Draft("m"));
        Assert.True(await first.WaitAsync(s_watchTimeout));
        Assert.Equal(start + 1, revisions.Current);

        // The watcher is past its first read and waiting now, so only a notification or a poll wakes it.
        Task<bool> second = revisions.MoveNextAsync().AsTask();
        await writer.SetAliasAsync("m", "production", 1, "alice");
        Assert.True(await second.WaitAsync(s_watchTimeout));
        Assert.Equal(start + 2, revisions.Current);
        await stop.CancelAsync();
    }

    [SkippableFact]
    public async Task Watch_FromAnOlderRevision_YieldsTheCurrentOneAtOnce()
    {
        IModelRegistry registry = await OpenAsync();
        long start = await registry.GetRevisionAsync();
        await registry.RegisterVersionAsync(Draft("m"));
        await registry.RegisterVersionAsync(Draft("m"));
        using var stop = new CancellationTokenSource();

        await using IAsyncEnumerator<long> revisions = registry.WatchAsync(start, TimeSpan.FromMinutes(10), stop.Token).GetAsyncEnumerator(stop.Token);

        Assert.True(await revisions.MoveNextAsync().AsTask().WaitAsync(s_watchTimeout));
        Assert.Equal(start + 2, revisions.Current);
        await stop.CancelAsync();
    }

    [SkippableFact]
    public async Task Open_AnAlreadyMigratedDatabase_AppliesNothingAndKeepsTheData()
    {
        IModelRegistry first = await OpenAsync();
        await first.RegisterVersionAsync(Draft("m"));
        long applied = Convert.ToInt64(await ExecuteSqlAsync("SELECT COUNT(*) FROM schema_migrations"));

        IModelRegistry second = await OpenAsync();

        Assert.True(applied >= 1);
        Assert.Equal(applied, Convert.ToInt64(await ExecuteSqlAsync("SELECT COUNT(*) FROM schema_migrations")));
        Assert.Single(await second.GetVersionsAsync("m"));
    }

    [SkippableFact]
    public async Task Open_ADatabaseMissingAnOlderMigration_AppliesItThough_NewerOnesRan()
    {
        await OpenAsync();
        // As if the database had been migrated by a build that had migration 10 but not yet 7 (the audit log).
        await ExecuteSqlAsync("DROP TABLE audit_anchors");
        await ExecuteSqlAsync("DROP TABLE audit_log");
        await ExecuteSqlAsync("DELETE FROM schema_migrations WHERE version = 7");

        await OpenAsync();

        Assert.Equal(0L, Convert.ToInt64(await ExecuteSqlAsync("SELECT COUNT(*) FROM audit_log")));
        Assert.Equal(1L, Convert.ToInt64(await ExecuteSqlAsync("SELECT COUNT(*) FROM schema_migrations WHERE version = 7")));
    }

    [SkippableFact]
    public async Task Open_ADatabaseMigratedByANewerQuiver_IsRefused()
    {
        await OpenAsync();
        await ExecuteSqlAsync("INSERT INTO schema_migrations (version, applied_at) VALUES (999, CURRENT_TIMESTAMP)");

        RegistryException e = await ThrowsRegistryAsync(RegistryErrorKind.Conflict, OpenAsync);

        Assert.Contains("schema version 999", e.Message);
        Assert.Contains("newer", e.Message);
    }

    [SkippableFact]
    public async Task ApiKeys_ReadBackAsStored_AndRevocationKeepsTheFirstTime()
    {
        IModelRegistry registry = await OpenAsync();
        var created = new DateTimeOffset(2026, 11, 1, 8, 30, 0, TimeSpan.Zero);
        var key = new Quiver.Core.Security.ApiKey
        {
            Id = "00112233aabbccdd", Name = "ci", Tenant = "acme",
            Roles = new HashSet<Quiver.Core.Security.Role> { Quiver.Core.Security.Role.Predictor, Quiver.Core.Security.Role.Viewer },
            SecretSha256 = new string('a', 64), CreatedAt = created, ExpiresAt = created.AddDays(30),
        };
        await registry.AddApiKeyAsync(key);
        await registry.AddApiKeyAsync(key with { Id = "ffeeddccbbaa9988", Name = "other", Tenant = null, ExpiresAt = null, CreatedAt = created.AddSeconds(1) });

        Quiver.Core.Security.ApiKey read = (await registry.GetApiKeyAsync(key.Id))!;
        Quiver.Core.Security.ApiKey revoked = await registry.RevokeApiKeyAsync(key.Id, created.AddDays(2));
        Quiver.Core.Security.ApiKey again = await registry.RevokeApiKeyAsync(key.Id, created.AddDays(3));

        Assert.Equal((key.Id, key.Name, key.Tenant, key.SecretSha256, key.CreatedAt, key.ExpiresAt), (read.Id, read.Name, read.Tenant, read.SecretSha256, read.CreatedAt, read.ExpiresAt));
        Assert.Equal(key.Roles.Order(), read.Roles.Order());
        Assert.Null(read.RevokedAt);
        Assert.Equal(created.AddDays(2), revoked.RevokedAt);
        Assert.Equal(created.AddDays(2), again.RevokedAt);
        Assert.Equal(["00112233aabbccdd", "ffeeddccbbaa9988"], (await registry.GetApiKeysAsync()).Select(k => k.Id));
        Assert.Null(await registry.GetApiKeyAsync("0000000000000000"));
        await ThrowsRegistryAsync(RegistryErrorKind.NotFound, () => registry.RevokeApiKeyAsync("0000000000000000", created));
    }

    [SkippableFact]
    public async Task AModelsOwner_IsSetByItsFirstVersion_AndAnotherTenantCannotAddVersions()
    {
        IModelRegistry registry = await OpenAsync();
        await registry.RegisterVersionAsync(Draft("owned") with { Tenant = "acme" });
        await registry.RegisterVersionAsync(Draft("shared"));

        await registry.RegisterVersionAsync(Draft("owned") with { Tenant = "acme" });
        await registry.RegisterVersionAsync(Draft("owned"));
        RegistryException other = await ThrowsRegistryAsync(RegistryErrorKind.Conflict,
            () => registry.RegisterVersionAsync(Draft("owned") with { Tenant = "globex" }));
        RegistryException intoShared = await ThrowsRegistryAsync(RegistryErrorKind.Conflict,
            () => registry.RegisterVersionAsync(Draft("shared") with { Tenant = "globex" }));

        Assert.Equal("acme", (await registry.GetModelAsync("owned"))!.Tenant);
        Assert.Null((await registry.GetModelAsync("shared"))!.Tenant);
        Assert.Null(await registry.GetModelAsync("nothing"));
        Assert.Equal(3, (await registry.GetVersionsAsync("owned")).Count);
        Assert.Contains("belongs to another tenant", other.Message);
        Assert.DoesNotContain("acme", other.Message);
        Assert.Contains("shared by every tenant", intoShared.Message);
        Assert.Equal([("owned", "acme"), ("shared", null)], (await registry.GetModelsAsync()).Select(m => (m.Name, m.Tenant)));
    }

    [SkippableFact]
    public async Task Open_ADatabaseWithALaterMigrationButNotAnEarlierOne_AppliesTheMissingOne()
    {
        // As after work with migration 10 was released before work with migration 6 was merged.
        await OpenAsync();
        await ExecuteSqlAsync("DROP TABLE api_keys");
        await ExecuteSqlAsync("ALTER TABLE models DROP COLUMN owner_tenant");
        await ExecuteSqlAsync("DELETE FROM schema_migrations WHERE version = 6");

        IModelRegistry reopened = await OpenAsync();
        await reopened.RegisterVersionAsync(Draft("m") with { Tenant = "acme" });

        Assert.Empty(await reopened.GetApiKeysAsync());
        Assert.Equal("acme", (await reopened.GetModelAsync("m"))!.Tenant);
        Assert.Equal(1L, Convert.ToInt64(await ExecuteSqlAsync("SELECT COUNT(*) FROM schema_migrations WHERE version = 6")));
    }
}
