using Quiver.Core.Batch;
using Quiver.Core.Registry;

namespace Quiver.Core.Tests.Batch;

/// <summary>Server-side job records in a real SQLite registry: replaced by id, kept per replica.</summary>
public sealed class RegistryBatchJobStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("quiver-batch-store-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static BatchJob Job(string id, BatchJobState state, long rows, int minute) => new()
    {
        Id = id,
        Spec = new BatchJobSpec { Model = "scorer", Input = "/data/in.csv", Map = new() { ["input"] = ["a", "b"] } },
        State = state,
        RowsProcessed = rows,
        OutputPath = $"/data/batch/{id}/output.jsonl",
        ErrorsPath = $"/data/batch/{id}/output.jsonl.errors.jsonl",
        CreatedAt = new DateTimeOffset(2026, 1, 1, 0, minute, 0, TimeSpan.Zero),
    };

    [Fact]
    public async Task SaveThenLoad_KeepsTheLatestRecordOfEachJob_OfThisReplicaOnly()
    {
        string path = Path.Combine(_directory, "registry.db");
        await using (IModelRegistry registry = await ModelRegistry.OpenAsync(path))
        {
            var mine = new RegistryBatchJobStore(registry, "replica-a");
            mine.Save(Job("b2", BatchJobState.Queued, 0, minute: 2));
            mine.Save(Job("a1", BatchJobState.Running, 10, minute: 1));
            mine.Save(Job("a1", BatchJobState.Running, 500, minute: 1));
            new RegistryBatchJobStore(registry, "replica-b").Save(Job("c3", BatchJobState.Running, 7, minute: 0));
        }

        await using IModelRegistry reopened = await ModelRegistry.OpenAsync(path);
        IReadOnlyList<BatchJob> loaded = new RegistryBatchJobStore(reopened, "replica-a").LoadAll();

        Assert.Equal(["a1", "b2"], loaded.Select(j => j.Id));
        Assert.Equal(500, loaded[0].RowsProcessed);
        Assert.Equal(BatchJobState.Running, loaded[0].State);
        Assert.Equal(["a", "b"], loaded[0].Spec.Map!["input"]);
    }
}
