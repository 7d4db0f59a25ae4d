using System.Runtime.ExceptionServices;

namespace Quiver.Core.Batch;

/// <summary>
/// The one thread that writes a batch's results while the engine runs the next: a thread of the job's own, not one
/// shared with a server's requests, so that it can run at low priority (<see cref="BackgroundPriority"/>).
/// </summary>
internal sealed class WriterThread : IDisposable
{
    // Monitor.Wait sleeps at once; a SemaphoreSlim spins and yields the CPU dozens of times first (see HandOffQueue).
    private readonly object _gate = new();
    private readonly Thread _thread;
    private Action? _write;
    private Exception? _failure;
    private bool _started; // and not yet waited for
    private bool _finished;
    private bool _ending;

    public WriterThread(bool lowPriority = false)
    {
        _thread = new Thread(() =>
        {
            if (lowPriority)
            {
                BackgroundPriority.LowerCurrentThread();
            }

            Loop();
        })
        { IsBackground = true, Name = "batch-writer" };
        _thread.Start();
    }

    /// <summary>Starts a write; the previous one must have been waited for.</summary>
    public void Start(Action write)
    {
        lock (_gate)
        {
            if (_started)
            {
                throw new InvalidOperationException("a write is still running.");
            }

            _write = write;
            _started = true;
            _finished = false;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits for the write started last, if one is running; throws what it threw.</summary>
    public void Wait()
    {
        Exception? failure;
        lock (_gate)
        {
            if (!_started)
            {
                return;
            }

            while (!_finished)
            {
                Monitor.Wait(_gate);
            }

            _started = false;
            failure = _failure;
            _failure = null;
        }

        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Lets a started write finish, then ends the thread.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _ending = true;
            Monitor.PulseAll(_gate);
        }

        _thread.Join();
    }

    private void Loop()
    {
        while (true)
        {
            Action? write;
            lock (_gate)
            {
                while (_write is null && !_ending)
                {
                    Monitor.Wait(_gate);
                }

                if (_write is null)
                {
                    return;
                }

                write = _write;
                _write = null;
            }

            Exception? failure = null;
            try
            {
                write();
            }
            catch (Exception e)
            {
                failure = e;
            }

            lock (_gate)
            {
                _failure = failure;
                _finished = true;
                Monitor.PulseAll(_gate);
            }
        }
    }
}
