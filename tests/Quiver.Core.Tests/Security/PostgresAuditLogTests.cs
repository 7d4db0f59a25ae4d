using Npgsql;
using Quiver.Core.Registry;
using Quiver.Core.Tests.Registry;

namespace Quiver.Core.Tests.Security;

/// <summary>The audit chain contract on a real PostgreSQL registry (the shared store of replicas).</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresAuditLogTests(PostgresServer server) : AuditLogContractTests
{
    private string? _connectionString;

    protected override async Task<IModelRegistry> OpenRegistryAsync() => await ModelRegistry.OpenAsync(await DatabaseAsync());

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
}
