using Quiver.Core.Lifecycle;
using Quiver.Core.Security.Audit;

namespace Quiver.Core.Tests.Security;

/// <summary>The canonical encoding behind the chain, and region names for data residency.</summary>
public sealed class AuditHashingTests
{
    private static readonly AuditEntry s_entry = new()
    {
        Sequence = 7, Time = new DateTimeOffset(2026, 12, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1234560), Actor = "alice", Tenant = "bank",
        Action = "models.promote", Resource = "models/iris", Outcome = "success", Source = "10.0.0.7", Details = "{}",
        PreviousHash = AuditHashing.GenesisHash, Hash = "",
    };

    public static TheoryData<string, AuditEntry> Changed => new()
    {
        { "sequence", s_entry with { Sequence = 8 } },
        { "time", s_entry with { Time = s_entry.Time.AddTicks(10) } },
        { "actor", s_entry with { Actor = "mallory" } },
        { "tenant null vs value", s_entry with { Tenant = null } },
        { "tenant empty vs null", s_entry with { Tenant = "" } },
        { "action", s_entry with { Action = "models.rollback" } },
        { "resource", s_entry with { Resource = "models/iris2" } },
        { "outcome", s_entry with { Outcome = "failure" } },
        { "source", s_entry with { Source = "10.0.0.8" } },
        { "details", s_entry with { Details = null } },
        { "previous hash", s_entry with { PreviousHash = new string('1', 64) } },
        // Lengths keep field boundaries: moving a character from one field to the next changes the hash.
        { "boundary", s_entry with { Actor = "alic", Tenant = "ebank" } },
    };

    [Theory]
    [MemberData(nameof(Changed))]
    public void HashOf_ChangesWithEveryField(string field, AuditEntry changed)
    {
        Assert.NotEqual(AuditHashing.HashOf(s_entry with { Tenant = field == "tenant empty vs null" ? null : s_entry.Tenant }), AuditHashing.HashOf(changed));
    }

    [Fact]
    public void HashOf_IgnoresTheStoredHash_AndIsLowercaseHex()
    {
        string hash = AuditHashing.HashOf(s_entry);

        Assert.Equal(hash, AuditHashing.HashOf(s_entry with { Hash = "anything" }));
        Assert.Matches("^[0-9a-f]{64}$", hash);
    }

    [Fact]
    public void MacOf_DependsOnTheKey()
    {
        var anchor = new AuditAnchor { Sequence = 4, HeadHash = new string('a', 64), PreviousMac = "", CreatedAt = s_entry.Time, KeyId = "k", Mac = "" };

        Assert.NotEqual(AuditHashing.MacOf(anchor, AuditKey.Generate()), AuditHashing.MacOf(anchor, AuditKey.Generate()));
    }

    [Theory]
    [InlineData("eu-west-1")]
    [InlineData("europe-west4")]
    [InlineData("westeurope")]
    public void CheckRegion_CloudStyleNames_AreAccepted(string region) => Assert.Null(DataResidency.CheckRegion(region));

    [Theory]
    [InlineData("EU-West-1")]
    [InlineData("eu_west_1")]
    [InlineData("-eu")]
    [InlineData("eu-")]
    [InlineData("1eu")]
    [InlineData("")]
    public void CheckRegion_OtherNames_AreRefusedSayingWhatIsExpected(string region) =>
        Assert.Contains("expected lowercase letters, digits and dashes", DataResidency.CheckRegion(region));

    [Fact]
    public void Refusal_NamesBothRegions_OrSaysTheServerHasNone()
    {
        Assert.Null(DataResidency.Refusal(null, "us-east-1"));
        Assert.Null(DataResidency.Refusal(["eu-west-1"], "eu-west-1"));
        Assert.Contains("region(s) eu-west-1, eu-central-1, not in this server's region us-east-1", DataResidency.Refusal(["eu-west-1", "eu-central-1"], "us-east-1"));
        Assert.Contains("this server has no region", DataResidency.Refusal(["eu-west-1"], null));
    }
}
