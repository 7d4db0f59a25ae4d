namespace Quiver.Onnx;

/// <summary>Severity of ONNX Runtime's own log messages (<c>OrtLoggingLevel</c>).</summary>
public enum OrtLoggingLevel
{
    Verbose = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
    Fatal = 4,
}

/// <summary>Whether independent graph branches run one after another or in parallel (<c>ExecutionMode</c>).</summary>
public enum ExecutionMode
{
    Sequential = 0,
    Parallel = 1,
}

/// <summary>How much ONNX Runtime rewrites the graph when it loads a model (<c>GraphOptimizationLevel</c>).</summary>
public enum GraphOptimizationLevel
{
    DisableAll = 0,
    Basic = 1,
    Extended = 2,
    Layout = 3,
    All = 99,
}
