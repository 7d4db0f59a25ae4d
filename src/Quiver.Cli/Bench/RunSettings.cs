namespace Quiver.Cli.Bench;

/// <summary>What <c>quiver bench run</c> measures; exactly one of <see cref="Duration"/> and <see cref="Requests"/> is set.</summary>
public sealed record RunSettings
{
    /// <summary>The REST base address, e.g. http://127.0.0.1:8000.</summary>
    public required Uri Url { get; init; }

    /// <summary>The gRPC base address, e.g. http://127.0.0.1:8001.</summary>
    public required Uri GrpcUrl { get; init; }

    /// <summary>The model's name on the server.</summary>
    public required string Model { get; init; }

    /// <summary>The model version; null sends to the highest ready version.</summary>
    public string? Version { get; init; }

    /// <summary>How requests are sent.</summary>
    public required BenchProtocol Protocol { get; init; }

    /// <summary>"1,64" for every input or "name:1,64" for one; empty takes the model's shapes with open dimensions as 1.</summary>
    public IReadOnlyList<string> Shapes { get; init; } = [];

    /// <summary>A KServe v2 JSON request whose inputs replace the random data.</summary>
    public string? InputData { get; init; }

    /// <summary>The levels of the sweep: requests kept in flight.</summary>
    public required int[] Concurrency { get; init; }

    /// <summary>Measurement time per level.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>Requests measured per level.</summary>
    public long? Requests { get; init; }

    /// <summary>Unmeasured load before each level.</summary>
    public TimeSpan Warmup { get; init; }

    /// <summary>Seed of the random input data.</summary>
    public int Seed { get; init; }

    /// <summary>The server's process id, to report its resident memory; null skips it.</summary>
    public int? ServerPid { get; init; }
}
