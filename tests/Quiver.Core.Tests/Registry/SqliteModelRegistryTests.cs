using Microsoft.Data.Sqlite;
using Quiver.Core.Registry;

namespace Quiver.Core.Tests.Registry;

/// <summary>The registry contract on a real SQLite file, and what only the SQLite registry does.</summary>
public sealed class SqliteModelRegistryTests : RegistryContractTests
{
    private readonly string _root = Directory.CreateTempSubdirectory("quiver-registry-").FullName;

    // A nested, not yet existing directory: opening must create it.
    private string DatabasePath => Path.Combine(_root, "data", ModelRegistry.DefaultFileName);

    protected override TimeSpan WatchPollInterval => TimeSpan.FromMilliseconds(100);

    protected override Task<IModelRegistry> OpenRegistryAsync() => ModelRegistry.OpenAsync(DatabasePath);

    protected override async Task<object?> ExecuteSqlAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Open_AFilePath_CreatesTheDirectoryAndAWriteAheadLoggedSqliteFile()
    {
        await using IModelRegistry registry = await ModelRegistry.OpenAsync(DatabasePath);

        Assert.IsType<SqliteModelRegistry>(registry);
        Assert.True(File.Exists(DatabasePath));
        Assert.Equal(DatabasePath, registry.Location);
        Assert.Equal("wal", await ExecuteSqlAsync("PRAGMA journal_mode"));
    }

    [Fact]
    public async Task Open_WhereTheDirectoryCannotBeCreated_IsUnavailableNamingThePath()
    {
        string blocker = Path.Combine(_root, "file");
        await File.WriteAllTextAsync(blocker, "not a directory");

        RegistryException e = await Assert.ThrowsAsync<RegistryException>(() => ModelRegistry.OpenAsync(Path.Combine(blocker, "registry.db")));

        Assert.Equal(RegistryErrorKind.Unavailable, e.Kind);
        Assert.Contains(blocker, e.Message);
    }
}
