using System.CommandLine;
using Quiver.Cli.Admin;
using Quiver.Core.Registry;
using Quiver.Core.Security;
using Quiver.Server;
using Spectre.Console;

namespace Quiver.Cli.Keys;

/// <summary>
/// <c>quiver keys create|list|revoke</c>: API keys, worked on directly in the registry (<c>--data-dir</c> or
/// <c>--registry</c>, as <c>quiver serve</c> is given), so they work with the server stopped, and every replica
/// sharing the registry honours a revocation at its next request.
/// </summary>
public static class ApiKeysCommands
{
    public static Command Create()
    {
        var name = new Option<string>("--name") { Description = "Who or what holds the key; it names the caller in the audit log.", Required = true };
        var roles = new Option<string[]>("--role")
        {
            Description = $"A role the key grants (repeat for more): {RoleNames.Known}.",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var tenant = new Option<string?>("--tenant") { Description = "Scope the key to one tenant's models (and the shared ones); default: every tenant." };
        var expires = new Option<string?>("--expires") { Description = "When the key stops working: a duration (30d, 12h, 90m) or a UTC date (2027-01-01); default: never." };
        (Option<string> dataDir, Option<string?> registry) = RegistryOptions();
        var command = new Command("create", "Create an API key; it is printed once and only its hash is stored.")
        {
            name, roles, tenant, expires, dataDir, registry,
        };
        command.SetAction(async (result, cancellationToken) => await RunAsync(async () =>
        {
            var granted = new List<Role>();
            foreach (string text in result.GetValue(roles) ?? [])
            {
                granted.Add(RoleNames.TryParse(text, out Role role) ? role : throw new ArgumentException($"--role '{text}' is not a role (known: {RoleNames.Known})."));
            }

            DateTimeOffset? expiresAt = result.GetValue(expires) is { } expiry ? ApiKeyManager.ParseExpiry(expiry, TimeProvider.System.GetUtcNow()) : null;
            await using IModelRegistry opened = await OpenAsync(result, dataDir, registry, create: true, cancellationToken);
            CreatedApiKey created = await new ApiKeyManager(opened, TimeProvider.System)
                .CreateAsync(result.GetValue(name)!, granted, result.GetValue(tenant), expiresAt, cancellationToken);
            ApiKey key = created.Record;
            Console.WriteLine(created.Key);
            await Console.Error.WriteLineAsync(
                $"Created API key {key.Id} '{key.Name}' ({RoleNames.Join(key.Roles).Replace(",", ", ", StringComparison.Ordinal)}" +
                $"{(key.Tenant is null ? ", every tenant" : $", tenant {key.Tenant}")}, " +
                $"{(key.ExpiresAt is { } at ? $"expires {Display.Time(at)}" : "never expires")}). " +
                "The key above is shown only now: store it in a secret store. Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.");
        }));
        return command;
    }

    public static Command List()
    {
        (Option<string> dataDir, Option<string?> registry) = RegistryOptions();
        var command = new Command("list", "List API keys (never their secrets): id, name, tenant, roles, created, expires, revoked.") { dataDir, registry };
        command.SetAction(async (result, cancellationToken) => await RunAsync(async () =>
        {
            await using IModelRegistry opened = await OpenAsync(result, dataDir, registry, create: false, cancellationToken);
            IReadOnlyList<ApiKey> keys = await new ApiKeyManager(opened, TimeProvider.System).ListAsync(cancellationToken);
            if (keys.Count == 0)
            {
                Console.WriteLine("No API keys. Create one with 'quiver keys create --name NAME --role predictor'.");
                return;
            }

            DateTimeOffset now = TimeProvider.System.GetUtcNow();
            Table table = AdminTables.Create("id", "name", "tenant", "roles", "created", "expires", "status");
            foreach (ApiKey key in keys)
            {
                string status = key.RevokedAt is { } revoked ? $"revoked {Display.Time(revoked)}"
                    : key.ExpiresAt <= now ? "expired"
                    : "active";
                AdminTables.Add(table, key.Id, key.Name, key.Tenant ?? "(all)", RoleNames.Join(key.Roles), Display.Time(key.CreatedAt),
                    Display.Time(key.ExpiresAt), status);
            }

            AdminConsole.For(Console.Out).Write(table);
        }));
        return command;
    }

    public static Command Revoke()
    {
        var id = new Argument<string>("id") { Description = "The key's id (the 16 hex digits after qk_, as 'quiver keys list' shows)." };
        (Option<string> dataDir, Option<string?> registry) = RegistryOptions();
        var command = new Command("revoke", "Revoke an API key; running servers refuse it from their next request on.") { id, dataDir, registry };
        command.SetAction(async (result, cancellationToken) => await RunAsync(async () =>
        {
            await using IModelRegistry opened = await OpenAsync(result, dataDir, registry, create: false, cancellationToken);
            ApiKey key = await new ApiKeyManager(opened, TimeProvider.System).RevokeAsync(result.GetValue(id)!, cancellationToken);
            Console.WriteLine($"Revoked API key {key.Id} '{key.Name}' at {Display.Time(key.RevokedAt)}.");
        }));
        return command;
    }

    private static (Option<string> DataDir, Option<string?> Registry) RegistryOptions()
    {
        var defaults = new QuiverServerOptions();
        return (
            new Option<string>("--data-dir") { Description = "The server's data directory.", DefaultValueFactory = _ => defaults.DataDirectory },
            new Option<string?>("--registry") { Description = "The registry, as given to quiver serve (default: registry.db in --data-dir)." });
    }

    // create may start a fresh data directory (serve finds the keys there later); list and revoke refuse a registry
    // that is not there, so a mistyped --data-dir is not mistaken for "no keys".
    private static async Task<IModelRegistry> OpenAsync(ParseResult result, Option<string> dataDir, Option<string?> registry, bool create,
        CancellationToken cancellationToken)
    {
        string? given = result.GetValue(registry);
        string file = Path.Combine(result.GetValue(dataDir)!, ModelRegistry.DefaultFileName);
        if (given is null && !File.Exists(file))
        {
            if (!create)
            {
                throw new IOException($"there is no registry at {file}; pass the --data-dir or --registry that quiver serve uses.");
            }

            Directory.CreateDirectory(result.GetValue(dataDir)!);
        }

        return await ModelRegistry.OpenAsync(given ?? file, cancellationToken);
    }

    private static async Task<int> RunAsync(Func<Task> action)
    {
        try
        {
            await action();
            return 0;
        }
        catch (Exception e) when (e is RegistryException or ArgumentException or FormatException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
    }
}
