using System.Data.Common;

namespace Quiver.Core.Registry;

/// <summary>One connection, and the write transaction when there is one, with the few command shapes the registry runs.</summary>
internal sealed class SqlSession(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
{
    /// <summary>The connection, for dialect-specific commands.</summary>
    public DbConnection Connection { get; } = connection;

    /// <summary>Set by a write that turned out to change nothing, so the revision is not bumped.</summary>
    public bool Unchanged { get; set; }

    /// <summary>Runs a statement; returns the rows affected.</summary>
    public async Task<int> ExecuteAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        await using DbCommand command = Create(sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The first column of the first row as a long, or null when there is no row or it is NULL.</summary>
    public async Task<long?> ScalarLongAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        await using DbCommand command = Create(sql, parameters);
        object? value = await command.ExecuteScalarAsync(cancellationToken);
        return value is null or DBNull ? null : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Every row, each turned into a value by <paramref name="map"/>.</summary>
    public async Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> map, params (string Name, object? Value)[] parameters)
    {
        await using DbCommand command = Create(sql, parameters);
        await using DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    private DbCommand Create(string sql, (string Name, object? Value)[] parameters)
    {
        DbCommand command = Connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach ((string name, object? value) in parameters)
        {
            DbParameter parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
