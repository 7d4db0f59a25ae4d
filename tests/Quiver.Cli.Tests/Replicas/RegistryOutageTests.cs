using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Quiver.Core.Tests.Registry;

namespace Quiver.Cli.Tests.Replicas;

/// <summary>
/// PostgreSQL down at start and during serving, with real <c>quiver serve</c> processes: a clear error at start;
/// while serving, inference goes on from what is loaded, management calls fail cleanly, and all recovers when the
/// database returns. In the PostgreSQL collection, so stopping the database disturbs no other test.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RegistryOutageTests(PostgresServer postgres) : IDisposable
{
    private readonly string _repository = Replica.CreateRepository(1, 2);

    [Fact]
    public async Task Serve_PostgresDownAtStart_ExitsNonZeroWithAClearErrorAndNoStackTrace()
    {
        int port = UnusedPort();
        using QuiverProcess quiver = QuiverProcess.Start("serve", "--registry", $"postgres://quiver:s3cret-pw@127.0.0.1:{port}/registry",
            "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0");

        int exitCode = await quiver.WaitForExitAsync(Replica.Timeout);

        string printed = quiver.Output + quiver.Error;
        Assert.NotEqual(0, exitCode);
        Assert.Contains($"quiver serve: cannot connect to the PostgreSQL registry at 127.0.0.1:{port} (database 'registry')", quiver.Error);
        Assert.DoesNotContain("s3cret-pw", printed);
        Assert.DoesNotContain("Exception", printed);
        Assert.DoesNotMatch(@"\n\s+at ", printed);
        Assert.DoesNotContain("listening on", printed);
    }

    [SkippableFact]
    public async Task PostgresDown_WhileServing_InferenceContinues_ManagementAnswers503_AndAllRecovers()
    {
        string registry = await ReplicaConvergenceTests.RegistryAsync(postgres);
        using Replica a = await Replica.StartAsync("replica-a", registry, _repository);
        using Replica b = await Replica.StartAsync("replica-b", registry, "");
        await Replica.EventuallyAsync("B serves version 2", () => b.InferAsync(), r => r.IsFrom(2), a, b);

        await postgres.StopAsync();
        try
        {
            foreach (Replica replica in new[] { a, b })
            {
                var calls = new Dictionary<string, (int Status, JsonNode? Body, string Text)>
                {
                    ["GET /v2/admin/models"] = await replica.SendAsync(HttpMethod.Get, "/v2/admin/models"),
                    ["GET /v2/admin/models/m"] = await replica.SendAsync(HttpMethod.Get, $"/v2/admin/models/{Replica.Model}"),
                    ["promote"] = await replica.PromoteAsync(1),
                    ["push"] = await replica.PushAsync(Replica.ModelVersion(3)),
                };
                foreach ((string call, var answer) in calls)
                {
                    Assert.True(answer.Status == 503, $"{replica.Name}: {call} answered {answer.Status}: {answer.Text}");
                    Assert.Contains("PostgreSQL registry", (string?)answer.Body?["error"]);
                }
            }

            // Once each replica's registry watch has run into the outage, serving still goes on from what is loaded.
            foreach (Replica replica in new[] { a, b })
            {
                await Replica.EventuallyAsync($"{replica.Name} notices the registry is down",
                    () => Task.FromResult(replica.Output.Contains("cannot be read; watchers keep polling", StringComparison.Ordinal)), seen => seen, a, b);
            }

            foreach (Replica replica in new[] { a, b })
            {
                for (int i = 0; i < 20; i++)
                {
                    InferAnswer answer = await replica.InferAsync();
                    Assert.True(answer.IsFrom(2), $"{replica.Name} during the outage: {answer}");
                    Assert.True((await replica.InferAsync(1)).IsFrom(1), $"{replica.Name} version 1 during the outage");
                }
            }
        }
        finally
        {
            await postgres.StartAsync();
        }

        foreach (Replica replica in new[] { a, b })
        {
            await Replica.EventuallyAsync($"{replica.Name}'s management API works again",
                () => replica.SendAsync(HttpMethod.Get, "/v2/admin/models"), r => r.Status == 200, a, b);
        }

        // The push refused during the outage left no version behind.
        var model = await a.SendAsync(HttpMethod.Get, $"/v2/admin/models/{Replica.Model}");
        Assert.Equal(2, (int?)model.Body!["latest_version"]);

        var promoted = await a.PromoteAsync(1);
        Assert.True(promoted.Status == 200, $"promote after recovery answered {promoted.Status}: {promoted.Text}");
        foreach (Replica replica in new[] { a, b })
        {
            await Replica.EventuallyAsync($"{replica.Name} serves version 1 after the promote made after recovery",
                () => replica.InferAsync(), r => r.IsFrom(1), a, b);
        }

        Assert.True(a.IsRunning && b.IsRunning, a.Logs + b.Logs);
    }

    public void Dispose() => Directory.Delete(_repository, recursive: true);

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
