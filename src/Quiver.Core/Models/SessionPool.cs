using System.Collections.Concurrent;
using System.Diagnostics;
using Quiver.Onnx;

namespace Quiver.Core.Models;

/// <summary>
/// The ONNX Runtime sessions (instances) of one model version. Each instance runs one request at a
/// time, as Triton's instances do; callers wait for a free one.
/// </summary>
internal sealed class SessionPool : IDisposable
{
    private readonly InferenceSession[] _all;
    private readonly ConcurrentQueue<InferenceSession> _free;
    private readonly SemaphoreSlim _available;
    private volatile bool _disposed;

    public SessionPool(InferenceSession[] sessions)
    {
        _all = sessions;
        _free = new ConcurrentQueue<InferenceSession>(sessions);
        _available = new SemaphoreSlim(sessions.Length, sessions.Length);
    }

    /// <summary>Any one instance, for reading metadata that every instance shares.</summary>
    public InferenceSession First => _all[0];

    /// <summary>Runs on the next free instance; also says how long it waited for one and how long it ran.</summary>
    public async ValueTask<(TensorValue[] Values, TimeSpan Queue, TimeSpan Infer)> RunAsync(
        IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string> outputNames, CancellationToken cancellationToken)
    {
        long queued = Stopwatch.GetTimestamp();
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _available.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_disposed)
        {
            _available.Release();
            throw new ObjectDisposedException(nameof(SessionPool), "the model version was unloaded while the request waited for an instance");
        }

        long started = Stopwatch.GetTimestamp();
        _free.TryDequeue(out InferenceSession? session);
        try
        {
            TensorValue[] values = session!.Run(inputs, outputNames, cancellationToken);
            return (values, Stopwatch.GetElapsedTime(queued, started), Stopwatch.GetElapsedTime(started));
        }
        finally
        {
            _free.Enqueue(session!);
            _available.Release();
        }
    }

    /// <summary>
    /// Waits for the requests running on the instances to finish, then releases the sessions. Requests
    /// still waiting for an instance get <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        for (int i = 0; i < _all.Length; i++)
        {
            _available.Wait();
        }

        foreach (InferenceSession session in _all)
        {
            session.Dispose();
        }

        // Hand the permits back so waiters wake up, see the pool is disposed, and leave.
        _available.Release(_all.Length);
    }
}
