using System.CommandLine;
using Quiver.Core.Lifecycle;
using Quiver.Core.Registry;
using Quiver.Core.Storage;
using Quiver.Server;

namespace Quiver.Cli.Keys;

/// <summary>
/// <c>quiver keys</c>: API keys that authenticate callers (<c>create</c>, <c>list</c>, <c>revoke</c>, in the registry),
/// and the master key that encrypts model artifacts at rest (<c>generate</c>, <c>rotate</c>).
/// </summary>
public static class KeysCommand
{
    public static Command Create()
    {
        var command = new Command("keys", "Manage API keys (create, list, revoke) and the master key that encrypts model artifacts at rest (generate, rotate).");
        command.Subcommands.Add(ApiKeysCommands.Create());
        command.Subcommands.Add(ApiKeysCommands.List());
        command.Subcommands.Add(ApiKeysCommands.Revoke());
        command.Subcommands.Add(Generate());
        command.Subcommands.Add(Rotate());
        return command;
    }

    private static Command Generate()
    {
        var output = new Option<string>("--output") { Description = "Where to write the new key (base64, readable by its owner only).", Required = true };
        var command = new Command("generate", "Write a new random 256-bit master key to a file.") { output };
        command.SetAction(result =>
        {
            string path = result.GetValue(output)!;
            if (File.Exists(path))
            {
                Console.Error.WriteLine($"error: {path} exists; refusing to overwrite a key (artifacts wrapped by it would be lost).");
                return 1;
            }

            MasterKey.Generate().Save(path);
            Console.WriteLine($"Wrote a new master key to {path}. Serve with --master-key-file {path}.");
            return 0;
        });
        return command;
    }

    private static Command Rotate()
    {
        var defaults = new QuiverServerOptions();
        var keyFile = new Option<string?>("--master-key-file")
        {
            Description = "The current key file, as given to quiver serve; it is replaced by the new key when every data key is re-wrapped.",
        };
        var newKeyFile = new Option<string?>("--new-key-file")
        {
            Description = "The new key (default: a new random key). Either way it is kept in <master-key-file>.new until the rotation completes.",
        };
        var dataDir = new Option<string>("--data-dir") { Description = "The server's data directory.", DefaultValueFactory = _ => defaults.DataDirectory };
        var registry = new Option<string?>("--registry") { Description = "The registry, as given to quiver serve (default: registry.db in --data-dir)." };
        var auditKey = new Option<string?>("--audit-key-file") { Description = "The audit key, as given to quiver serve (default: audit.key in --data-dir)." };
        var command = new Command("rotate",
            "Re-wrap every artifact's data key under a new master key, without re-encrypting artifacts; running servers keep serving " +
            "and loading throughout (they read the pending <master-key-file>.new, then the replaced key file).")
        {
            keyFile, newKeyFile, dataDir, registry, auditKey,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(keyFile) is not { } current)
            {
                await Console.Error.WriteLineAsync(MissingKeyFileMessage());
                return 1;
            }

            string pending = MasterKey.PendingPathFor(current);
            try
            {
                MasterKey oldKey = MasterKey.FromFile(current);
                MasterKey newKey = PendingKey(pending, result.GetValue(newKeyFile));
                await using IModelRegistry opened = await ModelRegistry.OpenAsync(
                    result.GetValue(registry) ?? Path.Combine(result.GetValue(dataDir)!, ModelRegistry.DefaultFileName), cancellationToken);
                int changed = await MasterKeyRotation.RotateAsync(opened, oldKey, newKey, cancellationToken);
                newKey.Save(current);

                // A push served while the data keys were re-wrapped may have used the old key: move it too.
                changed += await MasterKeyRotation.RotateAsync(opened, oldKey, newKey, cancellationToken);
                File.Delete(pending);
                Console.WriteLine($"Re-wrapped {changed} data key(s) under key {newKey.KeyId}; {current} now holds the new key.");
                string? auditProblem = await Audit.AuditCommand.TryRecordAsync(opened, result.GetValue(dataDir)!, result.GetValue(auditKey),
                    new Core.Security.AuditEvent(Audit.AuditCommand.CurrentUser, "keys.rotate", "master-key", "success")
                    {
                        Details = Core.Security.Audit.AuditDetails.ToJson(new Dictionary<string, object?>
                        {
                            ["old_key_id"] = oldKey.KeyId, ["new_key_id"] = newKey.KeyId, ["rewrapped"] = changed,
                        }),
                    }, cancellationToken);
                if (auditProblem is not null)
                {
                    await Console.Error.WriteLineAsync($"warning: {auditProblem}");
                }

                return 0;
            }
            catch (Exception e) when (e is ArtifactKeyException or RegistryException or IOException or FormatException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    // The key the rotation moves to, saved as <key-file>.new before any data key is re-wrapped: running servers open
    // re-wrapped versions with it until the key file is replaced, and a rotation cut short is finished with it.
    private static MasterKey PendingKey(string pending, string? given)
    {
        MasterKey? cutShort = File.Exists(pending) ? MasterKey.FromFile(pending) : null;
        MasterKey newKey = given is not null ? MasterKey.FromFile(given) : cutShort ?? MasterKey.Generate();
        if (cutShort is null)
        {
            newKey.Save(pending);
        }
        else if (cutShort.KeyId != newKey.KeyId)
        {
            throw new IOException(
                $"a rotation to key {cutShort.KeyId} was cut short and some data keys may be wrapped by it ({pending}); " +
                "finish it first by running the same command without --new-key-file.");
        }

        return newKey;
    }

    // A key in an environment variable cannot change under a running server, so rotating it in place is refused.
    private static string MissingKeyFileMessage() =>
        Environment.GetEnvironmentVariable(MasterKey.DefaultEnvironmentVariable) is { Length: > 0 }
            ? $"error: the master key comes from {MasterKey.DefaultEnvironmentVariable}, which a running server reads only at start, so it " +
              "cannot be rotated while serving. Move it to a key file first: " +
              $"(umask 077; printf '%s' \"${MasterKey.DefaultEnvironmentVariable}\" > master.key), restart the servers with " +
              $"--master-key-file master.key (and {MasterKey.DefaultEnvironmentVariable} unset), then run " +
              "quiver keys rotate --master-key-file master.key."
            : "error: --master-key-file is required: the key file the servers are started with (quiver serve --master-key-file).";

    private static MasterKey SaveNew(string path)
    {
        MasterKey key = MasterKey.Generate();
        key.Save(path);
        return key;
    }
}
