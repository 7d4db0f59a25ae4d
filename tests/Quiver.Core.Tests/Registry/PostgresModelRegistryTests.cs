using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;
using Quiver.Core.Registry;

namespace Quiver.Core.Tests.Registry;

/// <summary>The registry contract on a real PostgreSQL server, and what only the PostgreSQL registry does.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresModelRegistryTests(PostgresServer server) : RegistryContractTests
{
    private static readonly TimeSpan s_watchTimeout = TimeSpan.FromSeconds(15);

    private string? _connectionString;

    // Ten minutes: the watch test passes in time only if NOTIFY wakes the watcher.
    protected override TimeSpan WatchPollInterval => TimeSpan.FromMinutes(10);

    protected override async Task<IModelRegistry> OpenRegistryAsync() =>
        await ModelRegistry.OpenAsync(await DatabaseAsync());

    protected override async Task<object?> ExecuteSqlAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(await DatabaseAsync());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    private async Task<string> DatabaseAsync()
    {
        Skip.If(server.SkipReason is not null, server.SkipReason);
        return _connectionString ??= await server.CreateDatabaseAsync();
    }

    private async Task<PostgresModelRegistry> OpenPostgresAsync() => (PostgresModelRegistry)await OpenAsync();

    [SkippableFact]
    public async Task Open_APostgresUri_ConnectsToThatDatabase()
    {
        var settings = new NpgsqlConnectionStringBuilder(await DatabaseAsync());

        await using IModelRegistry registry = await ModelRegistry.OpenAsync($"postgres://{settings.Username}@{settings.Host}:{settings.Port}/{settings.Database}");

        Assert.IsType<PostgresModelRegistry>(registry);
        Assert.Equal($"postgres://{settings.Username}@{settings.Host}:{settings.Port}/{settings.Database}", registry.Location);
        // The migrations ran in that database, up to the latest columns.
        Assert.True(Convert.ToInt64(await ExecuteSqlAsync("SELECT COUNT(*) FROM schema_migrations")) >= 6);
        Assert.Equal(0L, await ExecuteSqlAsync("SELECT COUNT(derived_from) FROM versions"));
        Assert.Equal(2L, await ExecuteSqlAsync("SELECT COUNT(*) FROM schema_migrations WHERE version IN (7, 8)"));
    }

    [Fact]
    public async Task Open_WhenNothingListens_IsUnavailableNamingTheServer_AndNotThePassword()
    {
        int port = UnusedPort();

        RegistryException e = await Assert.ThrowsAsync<RegistryException>(
            () => ModelRegistry.OpenAsync($"postgresql://quiver:s3cret-pw@127.0.0.1:{port}/registry"));

        Assert.Equal(RegistryErrorKind.Unavailable, e.Kind);
        Assert.Contains($"127.0.0.1:{port}", e.Message);
        Assert.DoesNotContain("s3cret-pw", e.Message);
    }

    [Fact]
    public async Task Open_ABadPostgresUri_IsInvalid_WithoutEchoingIt()
    {
        RegistryException e = await Assert.ThrowsAsync<RegistryException>(
            () => ModelRegistry.OpenAsync("postgres://quiver:s3cret-pw@127.0.0.1:5432/db?no_such_setting=1"));

        Assert.Equal(RegistryErrorKind.Invalid, e.Kind);
        Assert.Contains("no_such_setting", e.Message);
        Assert.DoesNotContain("s3cret-pw", e.Message);
    }

    [SkippableFact]
    public async Task Artifact_OfSeveralChunks_RoundTrips_AndStoringItAgainIsANoOp()
    {
        PostgresModelRegistry registry = await OpenPostgresAsync();
        byte[] content = RandomNumberGenerator.GetBytes((5 * PostgresModelRegistry.ChunkSize) / 2);
        string sha = Convert.ToHexStringLower(SHA256.HashData(content));

        Assert.True(await registry.StoreArtifactAsync(sha, new MemoryStream(content)));
        Assert.False(await registry.StoreArtifactAsync(sha, new MemoryStream(content)));

        await using Stream stored = (await registry.OpenArtifactAsync(sha))!;
        Assert.Equal(content.Length, stored.Length);
        var copy = new MemoryStream();
        await stored.CopyToAsync(copy, 300_000);
        Assert.Equal(content, copy.ToArray());
        Assert.Equal(3L, await ExecuteSqlAsync($"SELECT COUNT(*) FROM artifact_chunks WHERE sha256 = '{sha}'"));
    }

    [SkippableFact]
    public async Task EncryptedArtifact_NoVersionRecorded_IsReplacedWhole_WhileStoringItAgainKeepsTheFirstCopy()
    {
        PostgresModelRegistry registry = await OpenPostgresAsync();
        string sha = Convert.ToHexStringLower(SHA256.HashData("plaintext of the model"u8));
        byte[] crashed = RandomNumberGenerator.GetBytes(PostgresModelRegistry.ChunkSize * 2 + 5);
        byte[] pushedAgain = RandomNumberGenerator.GetBytes(PostgresModelRegistry.ChunkSize + 9);
        Assert.True(await registry.StoreArtifactAsync(sha, new MemoryStream(crashed), encrypted: true));

        Assert.False(await registry.StoreArtifactAsync(sha, new MemoryStream(pushedAgain), encrypted: true));
        await registry.ReplaceArtifactAsync(sha, new MemoryStream(pushedAgain), encrypted: true);

        await using Stream stored = (await registry.OpenArtifactAsync(sha))!;
        var copy = new MemoryStream();
        await stored.CopyToAsync(copy);
        Assert.Equal(pushedAgain, copy.ToArray());
        Assert.Equal(2L, await ExecuteSqlAsync($"SELECT COUNT(*) FROM artifact_chunks WHERE sha256 = '{sha}'"));
    }

    [SkippableFact]
    public async Task Artifact_ReadSynchronouslyInSmallPieces_IsTheSameBytes()
    {
        PostgresModelRegistry registry = await OpenPostgresAsync();
        byte[] content = RandomNumberGenerator.GetBytes(PostgresModelRegistry.ChunkSize + 17);
        string sha = Convert.ToHexStringLower(SHA256.HashData(content));
        await registry.StoreArtifactAsync(sha, new MemoryStream(content));

        using Stream stored = (await registry.OpenArtifactAsync(sha))!;
        var copy = new MemoryStream();
        stored.CopyTo(copy, 4096);

        Assert.Equal(content, copy.ToArray());
    }

    [SkippableFact]
    public async Task Artifact_WhoseBytesDoNotMatchItsChecksum_IsRefusedAndNotStored()
    {
        PostgresModelRegistry registry = await OpenPostgresAsync();
        string claimed = Convert.ToHexStringLower(SHA256.HashData("other"u8));

        RegistryException e = await Assert.ThrowsAsync<RegistryException>(() => registry.StoreArtifactAsync(claimed, new MemoryStream([1, 2, 3])));

        Assert.Equal(RegistryErrorKind.Invalid, e.Kind);
        Assert.Null(await registry.OpenArtifactAsync(claimed));
        Assert.Equal(0L, await ExecuteSqlAsync("SELECT COUNT(*) FROM artifact_chunks"));
    }

    [SkippableFact]
    public async Task Watch_WhenTheNotificationConnectionDrops_KeepsYieldingByPollingAndListeningAgain()
    {
        IModelRegistry watcher = await OpenAsync();
        IModelRegistry writer = await OpenAsync();
        long start = await watcher.GetRevisionAsync();
        using var stop = new CancellationTokenSource();
        await using IAsyncEnumerator<long> revisions = watcher.WatchAsync(start, TimeSpan.FromMilliseconds(200), stop.Token).GetAsyncEnumerator(stop.Token);
        Task<bool> first = revisions.MoveNextAsync().AsTask();
        await writer.RegisterVersionAsync(new VersionDraft { Model = "m", Sha256 = new string('a', 64), SizeBytes = 1 });
        Assert.True(await first.WaitAsync(s_watchTimeout));

        long killed = (long)(await ExecuteSqlAsync(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity " +
            "WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"))!;
        Task<bool> second = revisions.MoveNextAsync().AsTask();
        await writer.SetAliasAsync("m", "production", 1, "alice");

        Assert.Equal(1, killed);
        Assert.True(await second.WaitAsync(s_watchTimeout));
        Assert.Equal(start + 2, revisions.Current);
        await stop.CancelAsync();
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
