using System.Runtime.ExceptionServices;

namespace Quiver.Core.Batch;

/// <summary>
/// The one thread that writes a batch's results while the engine runs the next: a thread of the job's own, not one
/// shared with a server's requests, so that it can run at low priority (<see cref="BackgroundPriority"/>).
/// </summary>
internal sealed class WriterThread : IDisposable
{
    private readonly SemaphoreSlim _started = new(0);
    private readonly SemaphoreSlim _finished = new(0);
    private readonly Thread _thread;
    private Action? _write;
    private Exception? _failure;
    private bool _writing;

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
        if (_writing)
        {
            throw new InvalidOperationException("a write is still running.");
        }

        _write = write;
        _writing = true;
        _started.Release();
    }

    /// <summary>Waits for the write started last, if one is running; throws what it threw.</summary>
    public void Wait()
    {
        if (!_writing)
        {
            return;
        }

        _finished.Wait();
        _writing = false;
        if (_failure is { } failure)
        {
            _failure = null;
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Lets a started write finish, then ends the thread.</summary>
    public void Dispose()
    {
        // A wake-up with no write posted tells the thread to end.
        _started.Release();
        _thread.Join();
        _started.Dispose();
        _finished.Dispose();
    }

    private void Loop()
    {
        while (true)
        {
            _started.Wait();
            Action? write = Interlocked.Exchange(ref _write, null);
            if (write is null)
            {
                return;
            }

            try
            {
                write();
            }
            catch (Exception e)
            {
                _failure = e;
            }

            _finished.Release();
        }
    }
}
