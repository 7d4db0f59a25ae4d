using System.Diagnostics;
using Quiver.Onnx;

namespace Quiver.Core.Scheduling;

/// <summary>One request waiting in a model's queue: its inputs in ONNX Runtime's terms, its deadline, its outcome.</summary>
internal sealed class ScheduledRequest
{
    private readonly TaskCompletionSource<TensorValue[]> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenRegistration _cancellation;

    public ScheduledRequest(NamedTensor[] inputs, string[] outputNames, long rows, Priority priority, long deadlineTimestamp,
        string? batchKey, CancellationToken cancellationToken)
    {
        Inputs = inputs;
        OutputNames = outputNames;
        Rows = rows;
        Priority = priority;
        DeadlineTimestamp = deadlineTimestamp;
        BatchKey = batchKey;
        CancellationToken = cancellationToken;
        EnqueuedTimestamp = Stopwatch.GetTimestamp();
    }

    public NamedTensor[] Inputs { get; }

    public string[] OutputNames { get; }

    /// <summary>The request's size along the batch dimension (1 for models that do not batch).</summary>
    public long Rows { get; }

    public Priority Priority { get; }

    /// <summary>When the request must have started running (<see cref="Stopwatch"/> ticks); long.MaxValue for none.</summary>
    public long DeadlineTimestamp { get; }

    /// <summary>Requests may share a batch only when their keys are equal (same inputs, shapes past the batch dimension, outputs).</summary>
    public string? BatchKey { get; }

    public CancellationToken CancellationToken { get; }

    public long EnqueuedTimestamp { get; }

    /// <summary>When a worker took it (<see cref="Stopwatch"/> ticks), for tracing.</summary>
    public long StartedTimestamp { get; set; }

    /// <summary>When its batch finished running, for tracing.</summary>
    public long FinishedTimestamp { get; set; }

    /// <summary>The rows and requests of the batch it ran in, for tracing.</summary>
    public (long Rows, int Requests) Batch { get; set; }

    /// <summary>The node in its queue while it waits; null once taken.</summary>
    public LinkedListNode<ScheduledRequest>? Node { get; set; }

    public Task<TensorValue[]> Outcome => _outcome.Task;

    public bool Expired(long now) => now >= DeadlineTimestamp;

    /// <summary>Calls <paramref name="onCancel"/> when the caller gives up while the request still waits.</summary>
    public void OnCancel(Action<ScheduledRequest> onCancel) =>
        _cancellation = CancellationToken.Register(static state =>
        {
            var (request, callback) = ((ScheduledRequest, Action<ScheduledRequest>))state!;
            callback(request);
        }, (this, onCancel));

    // Unregister, not Dispose: Dispose would wait for a callback already running, and that callback may be waiting
    // for the scheduler's lock held by the caller.
    public void Complete(TensorValue[] outputs)
    {
        _cancellation.Unregister();
        _outcome.TrySetResult(outputs);
    }

    public void Fail(Exception error)
    {
        _cancellation.Unregister();
        _outcome.TrySetException(error);
    }

    public void Cancel()
    {
        _outcome.TrySetCanceled(CancellationToken);
    }
}

/// <summary>Two levels: online requests always run before batch work waiting in the same model's queue.</summary>
public enum Priority
{
    Online,
    Batch,
}

/// <summary>The request's deadline passed while it waited; it never ran.</summary>
public sealed class DeadlineExceededException(string message) : Exception(message);

/// <summary>The model's queue is full; the request was not queued.</summary>
public sealed class QueueFullException(string message) : Exception(message);
