using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Registry;
using Quiver.Core.Security;
using Quiver.Core.Security.Audit;

namespace Quiver.Cli.Tests.Audit;

/// <summary><c>quiver audit verify|export|anchor</c> as processes, on a real SQLite registry whose log this test wrote and then tampered with.</summary>
public sealed class AuditCommandTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("quiver-audit-cli-").FullName;

    private string RegistryPath => Path.Combine(_dataDirectory, ModelRegistry.DefaultFileName);

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    // Ten entries, anchored at 4 and 8 (as a server with --audit-anchor-interval 4 would), under the data directory's key.
    private async Task WriteLogAsync()
    {
        await using IModelRegistry registry = await ModelRegistry.OpenAsync(RegistryPath);
        var log = new AuditLog((IAuditStore)registry, AuditKey.LoadOrCreate(Path.Combine(_dataDirectory, AuditKey.DefaultFileName)), NullLogger.Instance, 4);
        for (int i = 1; i <= 10; i++)
        {
            await log.AppendAsync(new AuditEvent("alice", "models.promote", "models/iris", "success") { Details = $"{{\"version\":{i}}}" });
        }
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={RegistryPath};Pooling=False");
        await connection.OpenAsync();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private async Task<Ran> RunAsync(params string[] args)
    {
        using QuiverProcess process = QuiverProcess.Start(["audit", .. args, "--data-dir", _dataDirectory]);
        int exitCode = await process.WaitForExitAsync(s_timeout);
        return new Ran(exitCode, process.Output, process.Error);
    }

    private sealed record Ran(int ExitCode, string Output, string Error);

    [Fact]
    public async Task Verify_AnUntouchedLog_ExitsZero()
    {
        await WriteLogAsync();

        using QuiverProcess verify = QuiverProcess.Start("audit", "verify", "--data-dir", _dataDirectory, "--anchor-interval", "4");

        Assert.True(await verify.WaitForExitAsync(s_timeout) == 0, verify.Error);
        Assert.Contains("audit log verified: 10 entries, 2 anchors (through entry 8)", verify.Output);
    }

    [Theory]
    [InlineData("UPDATE audit_log SET resource = 'models/other' WHERE sequence = 3", 3, "edited")]
    [InlineData("DELETE FROM audit_log WHERE sequence = 7", 7, "removed")]
    [InlineData("UPDATE audit_log SET sequence = -2 WHERE sequence = 2; UPDATE audit_log SET sequence = 2 WHERE sequence = 5; " +
        "UPDATE audit_log SET sequence = 5 WHERE sequence = -2", 2, "reordered")]
    [InlineData("DELETE FROM audit_anchors WHERE sequence = 8", 8, "anchor-missing")]
    public async Task Verify_AfterTampering_NamesTheFirstBadEntry_AndExitsOne(string tamper, long firstBad, string problem)
    {
        await WriteLogAsync();
        await ExecuteAsync(tamper);

        Ran verify = await RunAsync("verify", "--anchor-interval", "4");
        Ran json = await RunAsync("verify", "--anchor-interval", "4", "--json");

        Assert.Equal(1, verify.ExitCode);
        Assert.Contains($"first bad entry {firstBad} ({problem})", verify.Error);
        Assert.Equal(1, json.ExitCode);
        JsonNode result = JsonNode.Parse(json.Output)!;
        Assert.False((bool)result["valid"]!);
        Assert.Equal(firstBad, (long)result["first_bad_sequence"]!);
        Assert.Equal(problem, (string?)result["problem"]);
    }

    [Fact]
    public async Task Verify_WithAnotherAuditKey_ReportsAnAnchorMismatch()
    {
        await WriteLogAsync();
        string otherKey = Path.Combine(_dataDirectory, "other.key");
        AuditKey.LoadOrCreate(otherKey);

        Ran verify = await RunAsync("verify", "--anchor-interval", "4", "--audit-key-file", otherKey);

        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("first bad entry 4 (anchor-mismatch)", verify.Error);
    }

    [Fact]
    public async Task Verify_WithoutTheKeyFile_ExitsTwoSayingWhichFile()
    {
        await WriteLogAsync();
        File.Delete(Path.Combine(_dataDirectory, AuditKey.DefaultFileName));

        Ran verify = await RunAsync("verify");

        Assert.Equal(2, verify.ExitCode);
        Assert.Contains("audit key file", verify.Error);
        Assert.Contains("does not exist", verify.Error);
    }

    [Fact]
    public async Task Export_Since_WritesJsonLinesAfterThatSequence()
    {
        await WriteLogAsync();
        string output = Path.Combine(_dataDirectory, "audit.jsonl");

        Ran toFile = await RunAsync("export", "--since", "7", "--output", output);
        Ran toStdout = await RunAsync("export");
        Ran bad = await RunAsync("export", "--since", "last tuesday");

        Assert.True(toFile.ExitCode == 0, toFile.Error);
        Assert.Contains("Wrote 3 audit entries", toFile.Output);
        JsonNode[] lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal([8L, 9L, 10L], lines.Select(l => (long)l["sequence"]!));
        Assert.Equal("{\"version\":8}", (string?)lines[0]["details"]);
        Assert.Equal(10, toStdout.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--since must be a sequence number or an ISO 8601 time", bad.Error);
    }

    [Fact]
    public async Task Anchor_AnchorsTheHead_ThenHasNothingToDo()
    {
        await WriteLogAsync();

        Ran first = await RunAsync("anchor", "--anchor-interval", "4");
        Ran second = await RunAsync("anchor", "--anchor-interval", "4");
        Ran verify = await RunAsync("verify", "--anchor-interval", "4");

        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("Anchored entry 10", first.Output);
        Assert.Contains("Nothing to anchor", second.Output);
        Assert.Contains("3 anchors (through entry 10)", verify.Output);
    }
}
