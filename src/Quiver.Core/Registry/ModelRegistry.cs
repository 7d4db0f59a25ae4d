using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Quiver.Core.Registry;

/// <summary>Opens the registry a <c>--registry</c> setting names: PostgreSQL for a postgres:// URI or Host= string, else a SQLite file.</summary>
public static class ModelRegistry
{
    /// <summary>The SQLite file's name in the data directory when no registry is configured.</summary>
    public const string DefaultFileName = "registry.db";

    /// <summary>Opens the registry and brings its schema up to date, logging nothing.</summary>
    public static Task<IModelRegistry> OpenAsync(string connection, CancellationToken cancellationToken = default) =>
        OpenAsync(connection, NullLogger.Instance, cancellationToken);

    /// <summary>
    /// Opens the registry and brings its schema up to date: <c>postgres://user:pass@host:port/db</c>,
    /// <c>postgresql://...</c> or an Npgsql <c>Host=...</c> string for PostgreSQL, anything else a SQLite file path.
    /// </summary>
    public static async Task<IModelRegistry> OpenAsync(string connection, ILogger logger, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connection);
        string trimmed = connection.Trim();
        if (trimmed.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || trimmed.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return await PostgresModelRegistry.OpenAsync(ToNpgsqlConnectionString(trimmed), logger, cancellationToken);
        }

        if (trimmed.StartsWith("Host=", StringComparison.OrdinalIgnoreCase))
        {
            return await PostgresModelRegistry.OpenAsync(trimmed, logger, cancellationToken);
        }

        return await SqliteModelRegistry.OpenAsync(connection, logger, cancellationToken);
    }

    /// <summary>
    /// Turns <c>postgres://user:pass@host:port/db?key=value</c> into an Npgsql connection string; query keys are
    /// Npgsql's (e.g. <c>sslmode=require</c>). The message of a bad URI never repeats it, as it may hold a password.
    /// </summary>
    internal static string ToNpgsqlConnectionString(string uri)
    {
        const string Expected = "expected postgres://user:password@host:port/database";
        if (!Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed) || string.IsNullOrEmpty(parsed.Host))
        {
            throw RegistryException.Invalid($"the PostgreSQL registry URI is not valid: {Expected}.");
        }

        var settings = new NpgsqlConnectionStringBuilder
        {
            Host = parsed.IdnHost.Trim('[', ']'),
            Port = parsed.IsDefaultPort || parsed.Port < 0 ? 5432 : parsed.Port,
        };

        if (parsed.UserInfo.Length > 0)
        {
            string[] user = parsed.UserInfo.Split(':', 2);
            settings.Username = Uri.UnescapeDataString(user[0]);
            if (user.Length == 2)
            {
                settings.Password = Uri.UnescapeDataString(user[1]);
            }
        }

        string database = Uri.UnescapeDataString(parsed.AbsolutePath.TrimStart('/'));
        if (database.Length > 0)
        {
            settings.Database = database;
        }

        foreach (string pair in parsed.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = pair.Split('=', 2);
            string key = Uri.UnescapeDataString(parts[0]);
            try
            {
                settings[key] = parts.Length == 2 ? Uri.UnescapeDataString(parts[1]) : "true";
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                throw new RegistryException(RegistryErrorKind.Invalid, $"the PostgreSQL registry URI has a bad setting '{key}': {e.Message}", e);
            }
        }

        return settings.ConnectionString;
    }
}
