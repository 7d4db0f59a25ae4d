using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Registry;
using Quiver.Core.Security;
using Quiver.Core.Security.Audit;
using Quiver.Server;

namespace Quiver.Cli.Audit;

/// <summary>
/// <c>quiver audit</c>: verify, export and anchor the audit log, working on the registry database directly (like
/// <c>quiver keys rotate</c>), so it also works while no server runs, or when a server is suspected.
/// </summary>
public static class AuditCommand
{
    public static Command Create()
    {
        var command = new Command("audit", "Verify, export and anchor the tamper-evident audit log in the registry database.");
        command.Subcommands.Add(Verify());
        command.Subcommands.Add(Export());
        command.Subcommands.Add(Anchor());
        return command;
    }

    /// <summary>
    /// Appends one event to the registry's audit log, for CLI commands that change state without a server
    /// (<c>quiver keys rotate</c>). Returns an error message instead of throwing: the command's own work is done.
    /// </summary>
    public static async Task<string?> TryRecordAsync(IModelRegistry registry, string dataDirectory, string? keyFile, AuditEvent auditEvent,
        CancellationToken cancellationToken)
    {
        try
        {
            AuditLog log = new((IAuditStore)registry, LoadKey(dataDirectory, keyFile, create: true), NullLogger.Instance);
            await log.AppendAsync(auditEvent, cancellationToken);
            return null;
        }
        catch (Exception e) when (e is RegistryException or IOException or FormatException or UnauthorizedAccessException)
        {
            return $"could not record this in the audit log: {e.Message}";
        }
    }

    /// <summary>Who runs the CLI, for the audit log: $USER, else the account name.</summary>
    public static string CurrentUser => Environment.GetEnvironmentVariable("USER") is { Length: > 0 } user ? user : Environment.UserName;

    private sealed record Target(Option<string> DataDir, Option<string?> Registry, Option<string?> KeyFile, Option<int> AnchorInterval)
    {
        public static Target Create()
        {
            var defaults = new QuiverServerOptions();
            return new Target(
                new Option<string>("--data-dir") { Description = "The server's data directory.", DefaultValueFactory = _ => defaults.DataDirectory },
                new Option<string?>("--registry") { Description = "The registry, as given to quiver serve (default: registry.db in --data-dir)." },
                new Option<string?>("--audit-key-file")
                {
                    Description = $"The audit key, as given to quiver serve (default: {AuditKey.DefaultFileName} in --data-dir).",
                },
                new Option<int>("--anchor-interval")
                {
                    Description = "Entries between automatic anchors, as given to quiver serve.", DefaultValueFactory = _ => defaults.AuditAnchorInterval,
                });
        }

        public void AddTo(Command command)
        {
            command.Options.Add(DataDir);
            command.Options.Add(Registry);
            command.Options.Add(KeyFile);
            command.Options.Add(AnchorInterval);
        }

        public Task<IModelRegistry> OpenAsync(ParseResult result, CancellationToken cancellationToken) =>
            ModelRegistry.OpenAsync(result.GetValue(Registry) ?? Path.Combine(result.GetValue(DataDir)!, ModelRegistry.DefaultFileName), cancellationToken);

        public AuditLog Log(ParseResult result, IModelRegistry registry, bool createKey)
        {
            int interval = result.GetValue(AnchorInterval);
            if (interval < 1)
            {
                throw new FormatException($"--anchor-interval must be 1 or more, got {interval}.");
            }

            return new AuditLog((IAuditStore)registry, LoadKey(result.GetValue(DataDir)!, result.GetValue(KeyFile), createKey), NullLogger.Instance, interval);
        }
    }

    private static AuditKey LoadKey(string dataDirectory, string? keyFile, bool create)
    {
        string path = keyFile ?? Path.Combine(dataDirectory, AuditKey.DefaultFileName);
        return create && keyFile is null ? AuditKey.LoadOrCreate(path) : AuditKey.FromFile(path);
    }

    private static Command Verify()
    {
        Target target = Target.Create();
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("verify",
            "Recompute the audit log's hash chain and HMAC anchors; names the first bad entry (edited, removed, reordered, anchor mismatch) " +
            "and exits 1 when the log was tampered with, 2 when it cannot be read.") { json };
        target.AddTo(command);
        command.SetAction(async (result, cancellationToken) => await RunAsync(async () =>
        {
            await using IModelRegistry registry = await target.OpenAsync(result, cancellationToken);
            AuditVerification verification = await target.Log(result, registry, createKey: false).VerifyAsync(cancellationToken);
            if (result.GetValue(json))
            {
                using var buffer = new MemoryStream();
                using (var w = new Utf8JsonWriter(buffer))
                {
                    w.WriteStartObject();
                    AuditJson.WriteVerificationProperties(w, verification);
                    w.WriteEndObject();
                }

                Console.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
            }
            else if (verification.Valid)
            {
                Console.WriteLine(verification.Message);
            }
            else
            {
                await Console.Error.WriteLineAsync(verification.Message);
            }

            return verification.Valid ? 0 : 1;
        }));
        return command;
    }

    private static Command Export()
    {
        Target target = Target.Create();
        var since = new Option<string?>("--since")
        {
            Description = "Only entries after this sequence number, or recorded at or after this ISO 8601 time (e.g. 2026-12-01T00:00:00Z).",
            HelpName = "SEQ|TIME",
        };
        var output = new Option<string?>("--output") { Description = "Write the JSON lines to this file instead of stdout.", HelpName = "FILE" };
        var command = new Command("export", "Write the audit log as JSON lines (one entry per line, with its hashes) for a SIEM.") { since, output };
        target.AddTo(command);
        command.SetAction(async (result, cancellationToken) => await RunAsync(async () =>
        {
            (long after, DateTimeOffset? from) = ParseSince(result.GetValue(since));
            await using IModelRegistry registry = await target.OpenAsync(result, cancellationToken);
            var store = (IAuditStore)registry;
            string? path = result.GetValue(output);
            await using StreamWriter? file = path is null ? null : new StreamWriter(path, append: false, new UTF8Encoding(false));
            TextWriter writer = file ?? Console.Out;
            long count = 0;
            while (true)
            {
                IReadOnlyList<AuditEntry> page = await store.ReadAuditAsync(after, from, 1000, cancellationToken);
                foreach (AuditEntry entry in page)
                {
                    await writer.WriteAsync(AuditJson.ToLine(entry) + "\n");
                }

                count += page.Count;
                if (page.Count < 1000)
                {
                    break;
                }

                after = page[^1].Sequence;
            }

            await writer.FlushAsync(cancellationToken);
            if (path is not null)
            {
                Console.WriteLine($"Wrote {count} audit entries to {path}.");
            }

            return 0;
        }));
        return command;
    }

    private static Command Anchor()
    {
        Target target = Target.Create();
        var command = new Command("anchor", "Anchor the audit log's head now with an HMAC under the audit key (the server does so every --anchor-interval entries).");
        target.AddTo(command);
        command.SetAction(async (result, cancellationToken) => await RunAsync(async () =>
        {
            await using IModelRegistry registry = await target.OpenAsync(result, cancellationToken);
            AuditAnchor? anchor = await target.Log(result, registry, createKey: false).AnchorAsync(cancellationToken);
            Console.WriteLine(anchor is null
                ? "Nothing to anchor: the log is empty or its head is anchored already."
                : $"Anchored entry {anchor.Sequence} (hash {anchor.HeadHash[..16]}…) under audit key {anchor.KeyId}.");
            return 0;
        }));
        return command;
    }

    private static (long After, DateTimeOffset? Since) ParseSince(string? text)
    {
        if (text is null)
        {
            return (0, null);
        }

        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long sequence))
        {
            return (sequence, null);
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset time)
            ? (0, time)
            : throw new FormatException($"--since must be a sequence number or an ISO 8601 time such as 2026-12-01T00:00:00Z, got '{text}'.");
    }

    // Exit 2 for what stops the check itself (no database, no key), as distinct from 1 for a tampered log.
    private static async Task<int> RunAsync(Func<Task<int>> work)
    {
        try
        {
            return await work();
        }
        catch (Exception e) when (e is RegistryException or IOException or FormatException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
    }
}
