namespace Quiver.Core.Batch;

/// <summary>What kind of problem stopped a batch job; the CLI maps each to an exit code in one place.</summary>
public enum BatchErrorKind
{
    /// <summary>A bad argument or option; nothing was read or written.</summary>
    Usage,

    /// <summary>The input file is missing, unreadable, or its header or layout does not fit the model.</summary>
    Input,

    /// <summary>The model cannot be loaded or run on batch rows.</summary>
    Model,

    /// <summary>No model (version, alias) by the name given.</summary>
    ModelNotFound,

    /// <summary>The output, error or checkpoint file cannot be written (exists, disk full, no permission).</summary>
    Output,

    /// <summary>The checkpoint cannot be used to resume: another input, model, shard or mapping, or damaged.</summary>
    Checkpoint,

    /// <summary>More rows failed than --max-errors allows.</summary>
    TooManyErrors,
}

/// <summary>A batch job that cannot start or continue, with a message meant for the person who ran it.</summary>
public sealed class BatchException(BatchErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public BatchErrorKind Kind { get; } = kind;
}
