using System.Diagnostics;
using Quiver.Core.Models;
using Quiver.Onnx;

namespace Quiver.Core.Scheduling;

/// <summary>
/// The scheduler of one model version: a bounded queue in two priority levels, and one worker thread per
/// instance (ONNX Runtime session) taking requests from it, alone or, with dynamic batching, as batches
/// of compatible requests joined along the first dimension. ONNX Runtime's Run blocks, so each instance
/// gets a dedicated thread rather than a thread-pool thread. Batch-class work runs only when no online request
/// waits, and takes a bounded share of the time while online requests keep coming (<see cref="BatchShare"/>).
/// </summary>
internal sealed class ModelScheduler : IDisposable
{
    private readonly object _gate = new();
    private readonly LinkedList<ScheduledRequest> _online = new();
    private readonly LinkedList<ScheduledRequest> _batch = new();
    private readonly BatchShare _share = new();
    private readonly InferenceSession[] _sessions;
    private readonly Thread[] _workers;
    private readonly SchedulerSettings _settings;
    private readonly ModelStatistics _statistics;
    private readonly string _label;
    private int _queued;
    private bool _stopping;

    public ModelScheduler(InferenceSession[] sessions, SchedulerSettings settings, ModelStatistics statistics, string label)
    {
        _sessions = sessions;
        _settings = settings;
        _statistics = statistics;
        _label = label;
        _workers = new Thread[sessions.Length];
        for (int i = 0; i < sessions.Length; i++)
        {
            InferenceSession session = sessions[i];
            _workers[i] = new Thread(() => Work(session)) { IsBackground = true, Name = $"quiver {label} instance {i}" };
            _workers[i].Start();
        }
    }

    /// <summary>Requests waiting for an instance now.</summary>
    public int Queued => Volatile.Read(ref _queued);

    /// <summary>Any one instance, for reading metadata that every instance shares.</summary>
    public InferenceSession First => _sessions[0];

    /// <summary>
    /// Queues a request and completes when it has run. Throws <see cref="QueueFullException"/> at once when the
    /// queue is full, <see cref="DeadlineExceededException"/> when its deadline passes before it runs,
    /// <see cref="ObjectDisposedException"/> once the scheduler is stopping.
    /// </summary>
    public Task<TensorValue[]> EnqueueAsync(ScheduledRequest request)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            if (_queued >= _settings.MaxQueueSize)
            {
                throw new QueueFullException(
                    $"model {_label} has {_queued} requests waiting, its max_queue_size; retry later or raise max_queue_size/instance_count");
            }

            request.Node = (request.Priority == Priority.Online ? _online : _batch).AddLast(request);
            if (request.Priority == Priority.Online)
            {
                _share.OnlineArrived(request.EnqueuedTimestamp);
            }

            _queued++;
            Monitor.Pulse(_gate);
        }

        // Registered after queuing: a token that is already cancelled calls back at once and takes the request out again.
        request.OnCancel(Withdraw);
        return request.Outcome;
    }

    /// <summary>Stops taking requests, lets the queued and running ones finish, then releases the sessions.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        foreach (Thread worker in _workers)
        {
            worker.Join();
        }

        foreach (InferenceSession session in _sessions)
        {
            session.Dispose();
        }
    }

    // The caller gave up (client gone, gRPC deadline): a request still waiting leaves the queue and frees its slot.
    private void Withdraw(ScheduledRequest request)
    {
        lock (_gate)
        {
            if (request.Node is null)
            {
                return; // already taken by a worker
            }

            Remove(request);
        }

        request.Cancel();
    }

    private void Remove(ScheduledRequest request)
    {
        request.Node!.List!.Remove(request.Node);
        request.Node = null;
        _queued--;
    }

    private void Work(InferenceSession session)
    {
        while (true)
        {
            List<ScheduledRequest>? batch;
            lock (_gate)
            {
                while ((batch = TakeBatch(out TimeSpan wait)) is null)
                {
                    if (_stopping && _queued == 0)
                    {
                        return;
                    }

                    if (wait == Timeout.InfiniteTimeSpan)
                    {
                        Monitor.Wait(_gate);
                    }
                    else
                    {
                        Monitor.Wait(_gate, wait);
                    }
                }

                // Wake another idle instance for what is left, if anything.
                if (_queued > 0)
                {
                    Monitor.Pulse(_gate);
                }
            }

            Run(session, batch);
        }
    }

    /// <summary>
    /// Under the lock: the next requests to run, or null with how long to wait. Expired requests are failed on
    /// the way. Without batching that is the first request; with it, the first and the compatible requests
    /// behind it, once they fill the batch, reach a preferred size, or the first has waited the queue delay.
    /// </summary>
    private List<ScheduledRequest>? TakeBatch(out TimeSpan wait)
    {
        wait = Timeout.InfiniteTimeSpan;
        long now = Stopwatch.GetTimestamp();
        TimeSpan batchWait = _share.BatchWait(now);
        ScheduledRequest? head = FirstLive(_online, now) ?? (batchWait > TimeSpan.Zero ? null : FirstLive(_batch, now));
        if (head is null)
        {
            if (_batch.Count > 0 && batchWait > TimeSpan.Zero)
            {
                wait = batchWait;
            }

            return null;
        }

        if (_settings.Batching is not { } batching || head.Rows >= _settings.MaxBatchSize)
        {
            Remove(head);
            return [head];
        }

        var candidates = new List<ScheduledRequest>();
        long rows = 0;
        // Batch-class rows never ride along in an online batch: they would make it slower, and escape BatchShare.
        foreach (ScheduledRequest request in head.Priority == Priority.Online ? _online : _batch)
        {
            if (request.BatchKey == head.BatchKey && rows + request.Rows <= _settings.MaxBatchSize && !request.Expired(now))
            {
                candidates.Add(request);
                rows += request.Rows;
            }
        }

        TimeSpan waited = Stopwatch.GetElapsedTime(head.EnqueuedTimestamp, now);
        TimeSpan delay = TimeSpan.FromMicroseconds(batching.MaxQueueDelayMicroseconds);
        int preferred = LargestPreferred(batching.PreferredBatchSizes, rows);
        bool ready = rows >= _settings.MaxBatchSize || preferred > 0 || waited >= delay || _stopping;
        if (!ready)
        {
            wait = delay - waited;
            return null;
        }

        // With a preferred size reachable, take just that many rows (Triton's rule), else everything gathered.
        long limit = preferred > 0 ? preferred : rows;
        var batch = new List<ScheduledRequest>();
        long taken = 0;
        foreach (ScheduledRequest request in candidates)
        {
            if (taken + request.Rows <= limit || batch.Count == 0)
            {
                batch.Add(request);
                taken += request.Rows;
                Remove(request);
            }
        }

        return batch;
    }

    private static int LargestPreferred(int[] preferred, long rows)
    {
        for (int i = preferred.Length - 1; i >= 0; i--)
        {
            if (preferred[i] <= rows)
            {
                return preferred[i];
            }
        }

        return 0;
    }

    private ScheduledRequest? FirstLive(LinkedList<ScheduledRequest> queue, long now)
    {
        while (queue.First is { } node)
        {
            ScheduledRequest request = node.Value;
            if (!request.Expired(now))
            {
                return request;
            }

            Remove(request);
            request.Fail(new DeadlineExceededException(
                $"the request's deadline passed after {Stopwatch.GetElapsedTime(request.EnqueuedTimestamp, now).TotalMilliseconds:0.###} ms in model {_label}'s queue; it did not run"));
        }

        return null;
    }

    private void Run(InferenceSession session, List<ScheduledRequest> batch)
    {
        long start = Stopwatch.GetTimestamp();
        foreach (ScheduledRequest request in batch)
        {
            _statistics.RecordQueue(Stopwatch.GetElapsedTime(request.EnqueuedTimestamp, start));
        }

        string[] outputNames = batch[0].OutputNames;
        try
        {
            // A request running alone can be terminated by its caller; a batch runs to the end for all its members.
            NamedTensor[] inputs = batch.Count == 1 ? batch[0].Inputs : BatchTensors.Concatenate(batch);
            CancellationToken cancellation = batch.Count == 1 ? batch[0].CancellationToken : CancellationToken.None;
            long inferStart = Stopwatch.GetTimestamp();
            TensorValue[] outputs = session.Run(inputs, outputNames, cancellation);
            long outputStart = Stopwatch.GetTimestamp();
            TensorValue[][] parts = batch.Count == 1 ? [outputs] : BatchTensors.Split(outputs, batch, outputNames);
            _statistics.RecordExecution(batch.Sum(r => r.Rows), batch.Count, Stopwatch.GetElapsedTime(start, inferStart),
                Stopwatch.GetElapsedTime(inferStart, outputStart), Stopwatch.GetElapsedTime(outputStart));
            long finished = Stopwatch.GetTimestamp();
            if (batch[0].Priority == Priority.Batch)
            {
                lock (_gate)
                {
                    _share.BatchRan(start, finished);
                }
            }

            for (int i = 0; i < batch.Count; i++)
            {
                batch[i].StartedTimestamp = start;
                batch[i].FinishedTimestamp = finished;
                batch[i].Batch = (batch.Sum(r => r.Rows), batch.Count);
                batch[i].Complete(parts[i]);
            }
        }
        catch (OperationCanceledException) when (batch.Count == 1)
        {
            batch[0].Cancel();
        }
        catch (Exception e)
        {
            // Only this batch fails; the worker and its instance go on serving.
            foreach (ScheduledRequest request in batch)
            {
                request.Fail(e);
            }
        }
    }
}

/// <summary>What a model version's scheduler needs from its configuration.</summary>
internal sealed record SchedulerSettings(int MaxBatchSize, DynamicBatchingConfig? Batching, int MaxQueueSize);
