using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Npgsql;
using Quiver.Core.Tests.Registry;

namespace Quiver.Cli.Tests.Replicas;

/// <summary>
/// Two real <c>quiver serve</c> processes on one real PostgreSQL registry: what one replica changes, the other
/// serves on its own. Replica A imports a model repository; replica B has none, so every artifact it loads came
/// out of PostgreSQL.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class ReplicaConvergenceTests(PostgresServer postgres) : IDisposable
{
    private readonly List<string> _repositories = [];

    [SkippableFact]
    public async Task Promote_OnEitherReplica_TheOtherServesThePromotedVersion()
    {
        string registry = await RegistryAsync(postgres);
        using Replica a = await Replica.StartAsync("replica-a", registry, Repository(1, 2));
        using Replica b = await Replica.StartAsync("replica-b", registry, "");

        // Without a production alias both serve the newest version, so the promotes below are visible changes.
        Assert.True((await a.InferAsync()).IsFrom(2), a.Logs);
        await Replica.EventuallyAsync("B serves version 2 before any promote", () => b.InferAsync(), r => r.IsFrom(2), a, b);

        var promoted = await a.PromoteAsync(1);
        Assert.Equal(200, promoted.Status);
        Assert.True((await a.InferAsync()).IsFrom(1), "A applies its own promote at once");
        await Replica.EventuallyAsync("B serves version 1 after the promote on A", () => b.InferAsync(), r => r.IsFrom(1), a, b);

        promoted = await b.PromoteAsync(2);
        Assert.Equal(200, promoted.Status);
        Assert.Equal(1, (int?)promoted.Body!["previous_version"]);
        Assert.True((await b.InferAsync()).IsFrom(2), "B applies its own promote at once");
        await Replica.EventuallyAsync("A serves version 2 after the promote on B", () => a.InferAsync(), r => r.IsFrom(2), a, b);

        // Both replicas report both versions ready, whichever replica is asked.
        foreach (Replica asked in new[] { a, b })
        {
            JsonNode model = await Replica.EventuallyAsync($"{asked.Name} shows both replicas with versions 1 and 2 ready",
                async () => (await asked.SendAsync(HttpMethod.Get, $"/v2/admin/models/{Replica.Model}")).Body!,
                m => ReadyReplicas(m, 1).SetEquals(["replica-a", "replica-b"]) && ReadyReplicas(m, 2).SetEquals(["replica-a", "replica-b"]),
                a, b);
            Assert.Equal(2, (int?)model["aliases"]!["production"]);
        }
    }

    [SkippableFact]
    public async Task Push_OnOneReplica_IsServableOnTheOtherByVersion()
    {
        string registry = await RegistryAsync(postgres);
        using Replica a = await Replica.StartAsync("replica-a", registry, Repository(1));
        using Replica b = await Replica.StartAsync("replica-b", registry, "");
        await Replica.EventuallyAsync("B serves version 1", () => b.InferAsync(1), r => r.IsFrom(1), a, b);
        Assert.Equal(404, (await b.InferAsync(2)).Status);

        var pushed = await a.PushAsync(Replica.ModelVersion(2));

        Assert.Equal(201, pushed.Status);
        Assert.Equal(2, (int?)pushed.Body!["version"]);
        Assert.True((await a.InferAsync(2)).IsFrom(2), a.Logs);
        await Replica.EventuallyAsync("B serves the version pushed to A", () => b.InferAsync(2), r => r.IsFrom(2), a, b);
    }

    [SkippableFact]
    public async Task VersionOneReplicaCannotLoad_ShowsFailedWithTheReasonForThatReplica_AndReadyForTheOther()
    {
        string registry = await RegistryAsync(postgres);

        // Replica B's artifact cache already holds a damaged copy of version 2's artifact (a bad disk, a copy cut
        // short): B loads from it instead of fetching PostgreSQL's copy, and the integrity check refuses it there only.
        byte[] version2 = Replica.ModelVersion(2);
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(version2));
        string cacheOfB = Directory.CreateTempSubdirectory("quiver-replica-b-data-").FullName;
        _repositories.Add(cacheOfB);
        string damaged = Path.Combine(cacheOfB, "artifacts", sha256[..2], sha256);
        Directory.CreateDirectory(Path.GetDirectoryName(damaged)!);
        byte[] copy = (byte[])version2.Clone();
        copy[^1] ^= 0xFF;
        File.WriteAllBytes(damaged, copy);

        using Replica a = await Replica.StartAsync("replica-a", registry, Repository(1));
        using Replica b = await Replica.StartAsync("replica-b", registry, "", cacheOfB);
        await Replica.EventuallyAsync("B serves version 1", () => b.InferAsync(1), r => r.IsFrom(1), a, b);

        Assert.Equal(201, (await a.PushAsync(version2)).Status);

        foreach (Replica asked in new[] { a, b })
        {
            JsonNode model = await Replica.EventuallyAsync($"{asked.Name} shows version 2 ready on A and failed on B",
                async () => (await asked.SendAsync(HttpMethod.Get, $"/v2/admin/models/{Replica.Model}")).Body!,
                m => StateOf(m, "replica-a", 2)?.State == "ready" && StateOf(m, "replica-b", 2)?.State == "failed",
                a, b);
            string? reason = StateOf(model, "replica-b", 2)!.Value.Reason;
            Assert.Contains(sha256, reason);
            Assert.Contains("found sha256", reason);
            Assert.Null(StateOf(model, "replica-a", 2)!.Value.Reason);
        }

        // Each serves what it could load: A the new version, B still version 1 (the newest it has ready).
        Assert.True((await a.InferAsync()).IsFrom(2), a.Logs);
        Assert.True((await b.InferAsync()).IsFrom(1), b.Logs);
        Assert.NotEqual(200, (await b.InferAsync(2)).Status);
    }

    public void Dispose() => _repositories.ForEach(r => Directory.Delete(r, recursive: true));

    private static (string State, string? Reason)? StateOf(JsonNode model, string replica, int version) =>
        model["replicas"]!.AsArray()
            .Where(r => (string?)r!["replica"] == replica && (int?)r["version"] == version)
            .Select(r => ((string)r!["state"]!, (string?)r["reason"]))
            .Cast<(string, string?)?>()
            .FirstOrDefault();

    /// <summary>A new database on the test's PostgreSQL server, as the <c>--registry</c> URI a user would give.</summary>
    internal static async Task<string> RegistryAsync(PostgresServer postgres)
    {
        Skip.If(postgres.SkipReason is not null, postgres.SkipReason);
        var settings = new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync());
        return $"postgres://{settings.Username}@{settings.Host}:{settings.Port}/{settings.Database}";
    }

    private string Repository(params int[] versions)
    {
        string root = Replica.CreateRepository(versions);
        _repositories.Add(root);
        return root;
    }

    private static HashSet<string> ReadyReplicas(JsonNode model, int version) =>
        model["replicas"]!.AsArray()
            .Where(r => (int?)r!["version"] == version && (string?)r["state"] == "ready")
            .Select(r => (string)r!["replica"]!)
            .ToHashSet();
}
