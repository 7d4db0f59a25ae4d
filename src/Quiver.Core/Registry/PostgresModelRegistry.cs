using System.Buffers;
using System.Data.Common;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Quiver.Core.Registry;

/// <summary>
/// The registry in PostgreSQL, shared by every replica: each change NOTIFYs a channel in its transaction, so
/// watchers wake at once, and the artifact bytes are kept too (in 1 MiB chunks) so any replica can fetch them.
/// </summary>
public sealed class PostgresModelRegistry : SqlModelRegistry, IArtifactBlobStore
{
    /// <summary>The channel every change is announced on, with the new revision as the payload.</summary>
    public const string Channel = "quiver_registry";

    /// <summary>The size of the rows artifact bytes are split into.</summary>
    public const int ChunkSize = 1 << 20;

    // The advisory lock every writer takes first ("QUIVRREG"), so writers run one at a time as in SQLite.
    private const long WriteLockKey = 0x5155_4956_5252_4547;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _server;
    private readonly string _database;

    private PostgresModelRegistry(NpgsqlConnectionStringBuilder settings, ILogger logger)
        : base(logger)
    {
        _server = $"{settings.Host}:{settings.Port}";
        _database = settings.Database ?? settings.Username ?? "";
        Location = $"postgres://{settings.Username}@{_server}/{_database}";
        _dataSource = NpgsqlDataSource.Create(settings);
    }

    /// <inheritdoc />
    public override string Location { get; }

    /// <summary>Connects with an Npgsql connection string (<c>Host=...;Database=...</c>) and brings the schema up to date.</summary>
    public static async Task<PostgresModelRegistry> OpenAsync(string connectionString, ILogger logger, CancellationToken cancellationToken = default)
    {
        NpgsqlConnectionStringBuilder settings;
        try
        {
            settings = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new RegistryException(RegistryErrorKind.Invalid, $"the PostgreSQL registry connection string is not valid: {e.Message}", e);
        }

        if (string.IsNullOrEmpty(settings.Host))
        {
            throw RegistryException.Invalid("the PostgreSQL registry connection string names no Host.");
        }

        settings.ApplicationName ??= "quiver";
        var registry = new PostgresModelRegistry(settings, logger);
        try
        {
            await registry.MigrateAsync(PostgresSchema.Migrations, PostgresSchema.CreateMigrationsTable, cancellationToken);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    /// <inheritdoc />
    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <summary>
    /// Yields newer revisions, woken by LISTEN/NOTIFY and polling every <paramref name="pollInterval"/> besides;
    /// while the listening connection is down it polls alone and keeps trying to listen again.
    /// </summary>
    public override async IAsyncEnumerable<long> WatchAsync(
        long afterRevision, TimeSpan pollInterval, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        RequirePositive(pollInterval);
        long last = afterRevision;
        bool notificationsLost = false;
        NpgsqlConnection? listener = null;
        try
        {
            while (true)
            {
                if (listener is null)
                {
                    // Listen before reading the revision, so a change committed in between still wakes us.
                    (listener, string? error) = await TryListenAsync(cancellationToken);
                    if (listener is null && !notificationsLost)
                    {
                        notificationsLost = true;
                        Log.NotificationsLost(Logger, Location, pollInterval, error!);
                    }
                    else if (listener is not null && notificationsLost)
                    {
                        notificationsLost = false;
                        Log.NotificationsRestored(Logger, Location);
                    }
                }

                long? current = await TryGetRevisionAsync(cancellationToken);
                if (current > last)
                {
                    last = current.Value;
                    yield return last;
                    continue;
                }

                string? waitError = listener is null ? null : await WaitForNotificationAsync(listener, pollInterval, cancellationToken);
                if (listener is null || waitError is not null)
                {
                    if (listener is not null)
                    {
                        await listener.DisposeAsync();
                        listener = null;
                        notificationsLost = true;
                        Log.NotificationsLost(Logger, Location, pollInterval, waitError!);
                    }

                    await Task.Delay(pollInterval, cancellationToken);
                }
            }
        }
        finally
        {
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }
        }
    }

    /// <inheritdoc />
    public Task<bool> StoreArtifactAsync(string sha256, Stream content, bool encrypted = false, CancellationToken cancellationToken = default) =>
        StoreArtifactAsync(sha256, content, encrypted, replace: false, cancellationToken);

    /// <inheritdoc />
    public Task ReplaceArtifactAsync(string sha256, Stream content, bool encrypted, CancellationToken cancellationToken = default) =>
        StoreArtifactAsync(sha256, content, encrypted, replace: true, cancellationToken);

    private async Task<bool> StoreArtifactAsync(string sha256, Stream content, bool encrypted, bool replace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        string expected = RegistryNames.NormalizeSha256(sha256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            await using DbConnection connection = await OpenConnectionAsync(cancellationToken);
            await using DbTransaction transaction = await connection.BeginTransactionAsync(cancellationToken);
            var session = new SqlSession(connection, transaction, cancellationToken);
            if (replace)
            {
                // In the same transaction: readers see the old copy or the new one, never none.
                await session.ExecuteAsync("DELETE FROM artifact_chunks WHERE sha256 = @sha256", ("sha256", expected));
                await session.ExecuteAsync("DELETE FROM artifacts WHERE sha256 = @sha256", ("sha256", expected));
            }

            // The artifacts row goes first: a concurrent store of the same bytes waits on it and then finds it there.
            int claimed = await session.ExecuteAsync(
                "INSERT INTO artifacts (sha256, size_bytes, chunk_count, stored_at) VALUES (@sha256, 0, 0, @now) ON CONFLICT (sha256) DO NOTHING",
                ("sha256", expected), ("now", UtcNow()));
            if (claimed == 0)
            {
                return false;
            }

            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            await using var insert = new NpgsqlCommand(
                "INSERT INTO artifact_chunks (sha256, chunk_index, bytes) VALUES (@sha256, @index, @bytes)", (NpgsqlConnection)connection);
            insert.Parameters.AddWithValue("sha256", expected);
            var index = new NpgsqlParameter<int>("index", 0);
            var bytes = new NpgsqlParameter<ReadOnlyMemory<byte>>("bytes", ReadOnlyMemory<byte>.Empty);
            insert.Parameters.Add(index);
            insert.Parameters.Add(bytes);

            long size = 0;
            int chunks = 0;
            while (true)
            {
                int read = await content.ReadAtLeastAsync(buffer.AsMemory(0, ChunkSize), ChunkSize, throwOnEndOfStream: false, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                hash.AppendData(buffer, 0, read);
                index.TypedValue = chunks;
                bytes.TypedValue = buffer.AsMemory(0, read);
                await insert.ExecuteNonQueryAsync(cancellationToken);
                size += read;
                chunks++;
                if (read < ChunkSize)
                {
                    break;
                }
            }

            string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (!encrypted && actual != expected)
            {
                throw RegistryException.Invalid($"the artifact's content has SHA-256 {actual}, not the {expected} it was stored as.");
            }

            await session.ExecuteAsync(
                "UPDATE artifacts SET size_bytes = @size, chunk_count = @chunks WHERE sha256 = @sha256",
                ("size", size), ("chunks", chunks), ("sha256", expected));
            await transaction.CommitAsync(cancellationToken);
            return true;
        }
        catch (Exception e) when (Translate(e) is { } mapped)
        {
            throw mapped;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc />
    public async Task<Stream?> OpenArtifactAsync(string sha256, CancellationToken cancellationToken = default)
    {
        string normalized = RegistryNames.NormalizeSha256(sha256);
        try
        {
            await using DbConnection connection = await OpenConnectionAsync(cancellationToken);
            List<(long Size, int Chunks)> found = await new SqlSession(connection, null, cancellationToken).QueryAsync(
                "SELECT size_bytes, chunk_count FROM artifacts WHERE sha256 = @sha256",
                r => (r.GetInt64(0), r.GetInt32(1)), ("sha256", normalized));
            return found.Count == 0 ? null : new PostgresArtifactStream(_dataSource, normalized, found[0].Size, found[0].Chunks, Translate);
        }
        catch (Exception e) when (Translate(e) is { } mapped)
        {
            throw mapped;
        }
    }

    private protected override async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _dataSource.OpenConnectionAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException)
        {
            throw new RegistryException(
                RegistryErrorKind.Unavailable, $"cannot connect to the PostgreSQL registry at {_server} (database '{_database}'): {Describe(e)}", e);
        }
    }

    private protected override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        DbTransaction transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", (NpgsqlConnection)connection);
            command.Parameters.AddWithValue("key", WriteLockKey);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    // NOTIFY inside the transaction: PostgreSQL delivers it only if, and when, the change commits.
    private protected override Task OnChangeAsync(SqlSession session, long revision) =>
        session.ExecuteAsync("SELECT pg_notify(@channel, @revision)",
            ("channel", Channel), ("revision", revision.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private protected override RegistryException? Translate(Exception exception) => exception switch
    {
        PostgresException { SqlState: "23505" } e => // unique_violation
            new RegistryException(RegistryErrorKind.Conflict, $"the registry already holds that: {e.MessageText}", e),
        PostgresException e when IsUnavailable(e.SqlState) =>
            new RegistryException(RegistryErrorKind.Unavailable, $"the PostgreSQL registry at {_server} is unavailable: {e.MessageText}", e),
        PostgresException => null,
        NpgsqlException e =>
            new RegistryException(RegistryErrorKind.Unavailable, $"lost the PostgreSQL registry at {_server}: {Describe(e)}", e),
        _ => null,
    };

    // Connection (08), resources (53), operator intervention (57, e.g. shutdown), and serialization or deadlock (40): all retryable.
    private static bool IsUnavailable(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState.StartsWith("53", StringComparison.Ordinal)
        || sqlState.StartsWith("57", StringComparison.Ordinal) || sqlState.StartsWith("40", StringComparison.Ordinal);

    // Npgsql's own message is often "Failed to connect to host:port"; the socket's says why.
    private static string Describe(Exception e) =>
        e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;

    private async Task<(NpgsqlConnection? Listener, string? Error)> TryListenAsync(CancellationToken cancellationToken)
    {
        NpgsqlConnection? connection = null;
        try
        {
            connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            await using var command = new NpgsqlCommand($"LISTEN {Channel}", connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
            return (connection, null);
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            return (null, Describe(e));
        }
    }

    // Null when woken by a notification or the poll interval; the error when the connection broke.
    private static async Task<string?> WaitForNotificationAsync(NpgsqlConnection listener, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await listener.WaitAsync(timeout, cancellationToken);
            return null;
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or IOException or TimeoutException or InvalidOperationException)
        {
            return Describe(e);
        }
    }
}
