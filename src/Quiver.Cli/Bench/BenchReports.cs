namespace Quiver.Cli.Bench;

/// <summary>The result of <c>quiver bench run</c>; its JSON form (snake_case) is documented in bench/README.md.</summary>
public sealed record RunReport(
    int Schema,
    string Model,
    string? Version,
    string Protocol,
    string Url,
    IReadOnlyList<InputReport> Inputs,
    long BatchSize,
    double? DurationS,
    long? RequestsPerLevel,
    double WarmupS,
    IReadOnlyList<LevelReport> Levels)
{
    /// <summary>Bumped whenever a field changes meaning or goes away.</summary>
    public const int CurrentSchema = 1;
}

/// <summary>One input as sent: name, protocol datatype, shape with the batch dimension.</summary>
public sealed record InputReport(string Name, string Datatype, long[] Shape);

/// <summary>One concurrency level: client-side counts and latency, and the server's own account of the same requests.</summary>
public sealed record LevelReport(
    int Concurrency,
    long Requests,
    long Errors,
    string? FirstError,
    double ElapsedS,
    double RequestsPerS,
    double InferencesPerS,
    LatencySummary LatencyUs,
    ServerBreakdown? Server,
    MemoryReport? ServerRssKb,
    GcReport? ServerGc);

/// <summary>Resident memory of the server process (VmRSS, KiB) after warm-up and after the measurement.</summary>
public sealed record MemoryReport(long Before, long After);

/// <summary>The result of <c>quiver bench raw</c>.</summary>
public sealed record RawReport(
    int Schema,
    string ModelFile,
    int Threads,
    int Sessions,
    double DurationS,
    double WarmupS,
    IReadOnlyList<InputReport> Inputs,
    IReadOnlyList<RawLevelReport> Results)
{
    /// <summary>Bumped whenever a field changes meaning or goes away.</summary>
    public const int CurrentSchema = 1;
}

/// <summary>One batch size run in-process: model runs, inferences (runs × batch size), and the latency of one run.</summary>
public sealed record RawLevelReport(
    int BatchSize,
    long Runs,
    long Inferences,
    double ElapsedS,
    double RunsPerS,
    double InferencesPerS,
    LatencySummary LatencyUs);
