using Microsoft.Data.Sqlite;
using Quiver.Core.Registry;

namespace Quiver.Core.Tests.Security;

/// <summary>The audit chain contract on a real SQLite registry file.</summary>
public sealed class SqliteAuditLogTests : AuditLogContractTests
{
    private readonly string _root = Directory.CreateTempSubdirectory("quiver-audit-").FullName;

    private string DatabasePath => Path.Combine(_root, ModelRegistry.DefaultFileName);

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
}
