using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Quiver.Core.Tests.Registry;

/// <summary>
/// A throwaway PostgreSQL server for the tests: initdb into a temp directory, started on a free port, stopped and
/// deleted at the end. As root it runs the server as the postgres user, since PostgreSQL refuses to run as root.
/// Without PostgreSQL installed the tests that need it are skipped with <see cref="SkipReason"/>.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private const string User = "quiver";

    private string? _root;
    private string? _binDirectory;

    /// <summary>Why the PostgreSQL tests are skipped, or null when the server runs.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>The TCP port the server listens on, on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>Starts the server, or records why it cannot.</summary>
    public async Task InitializeAsync()
    {
        _binDirectory = FindBinDirectory();
        if (_binDirectory is null)
        {
            SkipReason = "PostgreSQL tests SKIPPED: no initdb and pg_ctl found in /usr/lib/postgresql/*/bin or on PATH. " +
                "Install PostgreSQL (apt-get install -y postgresql) to run them.";
            await Console.Error.WriteLineAsync($"*** {SkipReason} ***");
            return;
        }

        _root = Directory.CreateTempSubdirectory("quiver-pg-").FullName;
        if (Environment.UserName == "root")
        {
            await RunAsync("chown", ["postgres", _root], asPostgres: false);
        }

        await RunAsync(Path.Combine(_binDirectory, "initdb"), ["-D", DataDirectory, "-A", "trust", "-U", User, "-E", "UTF8", "--no-sync"]);
        Port = FreePort();
        await StartAsync();
    }

    /// <summary>Starts the server again after <see cref="StopAsync"/>, on the same port with the same data.</summary>
    public async Task StartAsync()
    {
        // fsync off: the data is thrown away, and a slow disk would otherwise dominate the run.
        await RunAsync(Path.Combine(RequireBinDirectory(), "pg_ctl"),
        [
            "-D", DataDirectory, "-l", Path.Combine(_root!, "server.log"), "-w", "-t", "120",
            "-o", $"-p {Port} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start",
        ]);
    }

    /// <summary>Stops the server (fast shutdown: open connections are cut), keeping its data for <see cref="StartAsync"/>.</summary>
    public async Task StopAsync()
    {
        // This process's pooled connections die with the server; drop them so none is handed out after a restart.
        NpgsqlConnection.ClearAllPools();
        await RunAsync(Path.Combine(RequireBinDirectory(), "pg_ctl"), ["-D", DataDirectory, "-m", "fast", "-w", "-t", "120", "stop"]);
    }

    /// <summary>Stops the server and deletes its files.</summary>
    public async Task DisposeAsync()
    {
        if (_root is null || _binDirectory is null)
        {
            return;
        }

        try
        {
            // A test that stopped the server and failed before starting it again leaves nothing to stop.
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
            {
                await StopAsync();
            }
        }
        finally
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>Creates an empty database and returns an Npgsql connection string for it.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        string name = "t_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }

        return ConnectionString(name);
    }

    private string DataDirectory => Path.Combine(_root ?? throw new InvalidOperationException(SkipReason), "data");

    private string RequireBinDirectory() => _binDirectory ?? throw new InvalidOperationException(SkipReason);

    private string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = User, Database = database, Timeout = 60 }.ConnectionString;

    private static string? FindBinDirectory()
    {
        string? versioned = Directory.Exists("/usr/lib/postgresql")
            ? Directory.EnumerateDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
                .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out int v) ? v : 0)
                .FirstOrDefault()
            : null;
        return versioned ?? (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(dir => File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments, bool asPostgres = true)
    {
        // The temp directory as working directory: the postgres user may not be allowed into the test's own.
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asPostgres && Environment.UserName == "root")
        {
            start.FileName = "runuser";
            foreach (string argument in (string[])["-u", "postgres", "--", program])
            {
                start.ArgumentList.Add(argument);
            }
        }
        else
        {
            start.FileName = program;
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await output}\n{await error}");
        }
    }
}

/// <summary>The tests that share one <see cref="PostgresServer"/>.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "postgres";
}
