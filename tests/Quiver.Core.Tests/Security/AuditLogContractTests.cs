using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Registry;
using Quiver.Core.Security;
using Quiver.Core.Security.Audit;

namespace Quiver.Core.Tests.Security;

/// <summary>
/// The audit chain on a real registry database: appends, verification, and each kind of tampering done with raw SQL
/// the way an attacker with database access would. Run on SQLite and on PostgreSQL by the subclasses.
/// </summary>
public abstract class AuditLogContractTests : IAsyncLifetime
{
    private readonly List<IModelRegistry> _opened = [];

    protected abstract Task<IModelRegistry> OpenRegistryAsync();

    protected abstract Task<object?> ExecuteSqlAsync(string sql);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (IModelRegistry registry in _opened)
        {
            await registry.DisposeAsync();
        }
    }

    private async Task<AuditLog> OpenLogAsync(AuditKey key, int anchorInterval = 4)
    {
        IModelRegistry registry = await OpenRegistryAsync();
        _opened.Add(registry);
        return new AuditLog((IAuditStore)registry, key, NullLogger.Instance, anchorInterval);
    }

    private static async Task AppendAsync(AuditLog log, int count)
    {
        for (int i = 1; i <= count; i++)
        {
            await log.AppendAsync(new AuditEvent("alice", "models.promote", $"models/iris/v{i}", "success")
            {
                Tenant = "bank", Source = "10.0.0.7", Details = $"{{\"version\":{i}}}",
            });
        }
    }

    [SkippableFact]
    public async Task Append_ChainsEntries_AndAnUntouchedLogVerifies()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 10);

        IReadOnlyList<AuditEntry> entries = await log.Store.ReadAuditAsync(0, null, 100);
        AuditVerification result = await log.VerifyAsync();

        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), entries.Select(e => e.Sequence));
        Assert.Equal(AuditHashing.GenesisHash, entries[0].PreviousHash);
        Assert.All(entries.Skip(1), (e, i) => Assert.Equal(entries[i].Hash, e.PreviousHash));
        Assert.Equal("bank", entries[3].Tenant);
        Assert.Equal("10.0.0.7", entries[3].Source);
        Assert.True(result.Valid, result.Message);
        Assert.Equal(10, result.Entries);
        Assert.Equal(2, result.Anchors); // at 4 and 8
        Assert.Equal(8, result.AnchoredThrough);
        Assert.Null(result.FirstBadSequence);
    }

    [SkippableFact]
    public async Task Verify_AnEmptyLog_IsValid()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());

        AuditVerification result = await log.VerifyAsync();

        Assert.True(result.Valid, result.Message);
        Assert.Equal(0, result.Entries);
    }

    [SkippableFact]
    public async Task Verify_AfterAFieldIsUpdated_NamesThatEntryAsEdited()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 10);

        await ExecuteSqlAsync("UPDATE audit_log SET actor = 'mallory' WHERE sequence = 6");
        AuditVerification result = await log.VerifyAsync();

        Assert.False(result.Valid);
        Assert.Equal(6, result.FirstBadSequence);
        Assert.Equal(AuditProblem.Edited, result.Problem);
        Assert.Contains("first bad entry 6 (edited)", result.Message);
    }

    [SkippableFact]
    public async Task Verify_AfterARowIsDeleted_NamesTheMissingEntry()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 10);

        await ExecuteSqlAsync("DELETE FROM audit_log WHERE sequence = 3");
        AuditVerification result = await log.VerifyAsync();

        Assert.False(result.Valid);
        Assert.Equal(3, result.FirstBadSequence);
        Assert.Equal(AuditProblem.Removed, result.Problem);
        Assert.Contains("jumps from entry 2 to 4", result.Message);
    }

    [SkippableFact]
    public async Task Verify_AfterTwoRowsSwapContents_NamesTheFirstAsReordered()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 10);

        // Swap every column but the sequence between entries 5 and 7, going through a parking sequence.
        await ExecuteSqlAsync("UPDATE audit_log SET sequence = -5 WHERE sequence = 5");
        await ExecuteSqlAsync("UPDATE audit_log SET sequence = 5 WHERE sequence = 7");
        await ExecuteSqlAsync("UPDATE audit_log SET sequence = 7 WHERE sequence = -5");
        AuditVerification result = await log.VerifyAsync();

        Assert.False(result.Valid);
        Assert.Equal(5, result.FirstBadSequence);
        Assert.Equal(AuditProblem.Reordered, result.Problem);
        Assert.Contains("links to entry 6, not to entry 4", result.Message);
    }

    [SkippableFact]
    public async Task Verify_AfterAdjacentRowsSwap_NamesTheFirstAsReordered()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 3);

        await ExecuteSqlAsync("UPDATE audit_log SET sequence = -1 WHERE sequence = 1");
        await ExecuteSqlAsync("UPDATE audit_log SET sequence = 1 WHERE sequence = 2");
        await ExecuteSqlAsync("UPDATE audit_log SET sequence = 2 WHERE sequence = -1");
        AuditVerification result = await log.VerifyAsync();

        Assert.Equal(1, result.FirstBadSequence);
        Assert.Equal(AuditProblem.Reordered, result.Problem);
    }

    [SkippableFact]
    public async Task Verify_AChainRewrittenConsistentlyWithoutTheKey_FailsAtTheFirstAnchor()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 6);

        // The attacker deletes everything and appends a history of their own; every hash is right, the anchor is not theirs.
        await ExecuteSqlAsync("DELETE FROM audit_log");
        AuditLog forger = new((IAuditStore)_opened[0], AuditKey.Generate(), NullLogger.Instance, anchorInterval: 1_000);
        for (int i = 0; i < 6; i++)
        {
            await forger.AppendAsync(new AuditEvent("mallory", "models.promote", "models/iris", "success"));
        }

        AuditVerification result = await log.VerifyAsync();

        Assert.False(result.Valid);
        Assert.Equal(4, result.FirstBadSequence);
        Assert.Equal(AuditProblem.AnchorMismatch, result.Problem);
        Assert.Contains("rewritten", result.Message);
    }

    [SkippableFact]
    public async Task Verify_WithAnotherKey_NamesTheFirstAnchorAndBothKeyIds()
    {
        AuditKey key = AuditKey.Generate();
        AuditLog log = await OpenLogAsync(key);
        await AppendAsync(log, 9);
        AuditKey wrong = AuditKey.Generate();

        AuditVerification result = await new AuditVerifier((IAuditStore)_opened[0], wrong, 4).VerifyAsync();

        Assert.False(result.Valid);
        Assert.Equal(4, result.FirstBadSequence);
        Assert.Equal(AuditProblem.AnchorMismatch, result.Problem);
        Assert.Contains(key.KeyId, result.Message);
        Assert.Contains(wrong.KeyId, result.Message);
    }

    [SkippableFact]
    public async Task Verify_AfterAnAnchorMacIsEdited_ReportsAnAnchorMismatch()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 9);

        await ExecuteSqlAsync("UPDATE audit_anchors SET head_hash = '" + new string('a', 64) + "' WHERE sequence = 8");
        AuditVerification result = await log.VerifyAsync();

        Assert.Equal(8, result.FirstBadSequence);
        Assert.Equal(AuditProblem.AnchorMismatch, result.Problem);
    }

    [SkippableFact]
    public async Task Verify_AfterAnAnchorIsDeleted_ReportsItMissing()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 9);

        await ExecuteSqlAsync("DELETE FROM audit_anchors WHERE sequence = 4");
        AuditVerification result = await log.VerifyAsync();

        Assert.Equal(4, result.FirstBadSequence);
        Assert.Equal(AuditProblem.AnchorMissing, result.Problem);
    }

    [SkippableFact]
    public async Task Anchor_OnDemand_CoversTheHeadOnce()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate(), anchorInterval: 100);
        await AppendAsync(log, 3);

        AuditAnchor? first = await log.AnchorAsync();
        AuditAnchor? again = await log.AnchorAsync();
        AuditVerification result = await log.VerifyAsync();

        Assert.Equal(3, first!.Sequence);
        Assert.Null(again);
        Assert.True(result.Valid, result.Message);
        Assert.Equal(3, result.AnchoredThrough);
    }

    [SkippableFact]
    public async Task Append_FromTwoRegistryInstancesAtOnce_FormsOneChain()
    {
        AuditKey key = AuditKey.Generate();
        AuditLog a = await OpenLogAsync(key);
        AuditLog b = await OpenLogAsync(key);

        await Task.WhenAll(
            Task.Run(() => AppendAsync(a, 15)),
            Task.Run(() => AppendAsync(b, 15)));
        AuditVerification result = await a.VerifyAsync();

        Assert.True(result.Valid, result.Message);
        Assert.Equal(30, result.Entries);
        Assert.Equal(7, result.Anchors);
    }

    [SkippableFact]
    public async Task Record_WhenTheDatabaseFails_DoesNotThrow()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await ExecuteSqlAsync("DROP TABLE audit_log");

        await log.RecordAsync(new AuditEvent("alice", "models.promote", "models/iris", "success"));
    }

    [SkippableFact]
    public async Task Read_Since_ReturnsOnlyLaterEntries()
    {
        AuditLog log = await OpenLogAsync(AuditKey.Generate());
        await AppendAsync(log, 5);

        IReadOnlyList<AuditEntry> after3 = await log.Store.ReadAuditAsync(3, null, 100);
        IReadOnlyList<AuditEntry> recent = await log.Store.ReadRecentAuditAsync(2);
        IReadOnlyList<AuditEntry> future = await log.Store.ReadAuditAsync(0, DateTimeOffset.UtcNow.AddHours(1), 100);

        Assert.Equal([4L, 5L], after3.Select(e => e.Sequence));
        Assert.Equal([5L, 4L], recent.Select(e => e.Sequence));
        Assert.Empty(future);
    }
}
