using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Quiver.Core.Registry;

/// <summary>
/// The registry in a SQLite file (the default, in the data directory). WAL mode lets readers run beside the one
/// writer; other processes on the same file see changes by polling <see cref="IModelRegistry.WatchAsync"/>.
/// </summary>
public sealed class SqliteModelRegistry : SqlModelRegistry
{
    // How long a writer waits for another (in this or another process) before the registry reports itself busy.
    private const int BusyTimeoutMilliseconds = 10_000;

    private readonly string _connectionString;

    private SqliteModelRegistry(string path, ILogger logger)
        : base(logger)
    {
        Location = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            ForeignKeys = true,
            Pooling = true,
            DefaultTimeout = BusyTimeoutMilliseconds / 1000,
        }.ToString();
    }

    /// <inheritdoc />
    public override string Location { get; }

    /// <summary>Opens, creating if missing (with its directory), the registry file and brings its schema up to date.</summary>
    public static async Task<SqliteModelRegistry> OpenAsync(string path, ILogger logger, CancellationToken cancellationToken = default)
    {
        string fullPath = Path.GetFullPath(path);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RegistryException(RegistryErrorKind.Unavailable, $"cannot create the directory of the registry file {fullPath}: {e.Message}", e);
        }

        var registry = new SqliteModelRegistry(fullPath, logger);
        try
        {
            await registry.EnableWriteAheadLogAsync(cancellationToken);
            await registry.MigrateAsync(SqliteSchema.Migrations, SqliteSchema.CreateMigrationsTable, cancellationToken);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public override ValueTask DisposeAsync()
    {
        // Pooled connections hold the file open; release them so the file can be moved or deleted.
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
        return ValueTask.CompletedTask;
    }

    private protected override async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using SqliteCommand command = connection.CreateCommand();
            command.CommandText = $"PRAGMA busy_timeout = {BusyTimeoutMilliseconds}";
            await command.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    // BEGIN IMMEDIATE: the write lock is taken up front, so two writers never deadlock upgrading from readers.
    private protected override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(System.Data.IsolationLevel.Serializable, deferred: false));

    private protected override RegistryException? Translate(Exception exception) => exception switch
    {
        SqliteException { SqliteErrorCode: 5 or 6 } e => // SQLITE_BUSY, SQLITE_LOCKED
            new RegistryException(RegistryErrorKind.Unavailable, $"the registry file {Location} is busy with another writer: {e.Message}", e),
        SqliteException { SqliteErrorCode: 3 or 8 or 10 or 11 or 13 or 14 or 26 } e => // PERM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB
            new RegistryException(RegistryErrorKind.Unavailable, $"the registry file {Location} cannot be used: {e.Message}", e),
        _ => null,
    };

    private async Task EnableWriteAheadLogAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using DbConnection connection = await OpenConnectionAsync(cancellationToken);
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode = WAL";
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Exception e) when (Translate(e) is { } mapped)
        {
            throw mapped;
        }
    }
}
