namespace Quiver.Onnx;

/// <summary>How to build an <see cref="InferenceSession"/>. Defaults are ONNX Runtime's own.</summary>
public sealed record SessionSettings
{
    /// <summary>Threads used inside one operator; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Threads running independent operators in parallel (parallel mode only); 0 lets ONNX Runtime choose.</summary>
    public int InterOpThreads { get; init; }

    public ExecutionMode ExecutionMode { get; init; } = ExecutionMode.Sequential;

    public GraphOptimizationLevel OptimizationLevel { get; init; } = GraphOptimizationLevel.All;

    /// <summary>Keep freed CPU memory in an arena for reuse. Defaults to true.</summary>
    public bool EnableCpuMemoryArena { get; init; } = true;

    /// <summary>Plan memory once for repeated input shapes. Defaults to true.</summary>
    public bool EnableMemoryPattern { get; init; } = true;

    /// <summary>Where ONNX Runtime writes the graph after optimization; null writes nothing.</summary>
    public string? OptimizedModelPath { get; init; }

    /// <summary>Session configuration entries (<c>AddSessionConfigEntry</c>), e.g. "session.intra_op.allow_spinning" = "0".</summary>
    public IReadOnlyDictionary<string, string> ConfigEntries { get; init; } = new Dictionary<string, string>();

    /// <summary>Execution providers in order of preference; "cpu" is always available and always last.</summary>
    public IReadOnlyList<ExecutionProviderSettings> ExecutionProviders { get; init; } = [];

    /// <summary>When a requested provider cannot be loaded: true runs on the next one (finally CPU), false fails.</summary>
    public bool FallbackToCpu { get; init; } = true;

    /// <summary>The id ONNX Runtime uses in this session's log messages.</summary>
    public string? LogId { get; init; }
}

/// <summary>
/// An execution provider by name: "cpu", "cuda", "tensorrt", or any name ONNX Runtime's generic
/// <c>SessionOptionsAppendExecutionProvider</c> accepts (e.g. "XNNPACK", "OpenVINO"), with its options.
/// </summary>
public sealed record ExecutionProviderSettings(string Name, IReadOnlyDictionary<string, string>? Options = null);
