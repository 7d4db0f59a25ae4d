namespace Quiver.Cli.Tests.Models;

/// <summary>Runs alone: it measures this process's allocations, which tests running beside it would inflate.</summary>
[CollectionDefinition(nameof(AllocationMeasurement), DisableParallelization = true)]
public sealed class AllocationMeasurement;

/// <summary><c>quiver models push</c> streams the file: a model larger than memory budgets can be pushed.</summary>
[Collection(nameof(AllocationMeasurement))]
public sealed class ModelsPushStreamingTests : IDisposable
{
    private const long FileBytes = 256L * 1024 * 1024;

    private readonly TempFiles _files = new();

    [Fact]
    public async Task Push_256MiBFile_AllocatesFarLessThanTheFile()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = Path.Combine(_files.Directory, "big.onnx");
        using (FileStream stream = File.Create(file))
        {
            // Sparse: no disk or tmpfs memory is used for the zeros.
            stream.SetLength(FileBytes);
        }

        // Warm up the command line, HttpClient and Kestrel so their one-time allocations are not measured.
        await ModelsCli.ModelsAsync(server, "push", "warm", _files.Random("small.onnx", 1_000));
        long before = GC.GetTotalAllocatedBytes(precise: true);
        CliRun run = await ModelsCli.ModelsAsync(server, "push", "big", file);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(FileBytes, server.Requests[^1].BodyLength);
        // Reading the file into memory would allocate at least its 256 MiB; streaming needs buffers of tens of KB
        // (plus the stand-in's own pooled reads, in this same process).
        Assert.True(allocated < 32L * 1024 * 1024, $"the push allocated {allocated / (1024 * 1024)} MiB for a 256 MiB file");
    }

    public void Dispose() => _files.Dispose();
}
