namespace Quiver.Core.Batch;

/// <summary>
/// A bounded first-in, first-out queue between a batch job's threads that sleeps at once when it has to wait.
/// <see cref="System.Collections.Concurrent.BlockingCollection{T}"/> (and the <see cref="SemaphoreSlim"/> under it)
/// spins first, calling sched_yield a few dozen times per wait: with chunks handed over hundreds of times a second that
/// was some 10,000 yields a second, a third of the reader's and writer's CPU time, on the vCPU the model's thread
/// shares its core with.
/// </summary>
internal sealed class HandOffQueue<T>(int capacity)
{
    // Waits wake this often to look at their cancellation token: simpler than a registration per wait, and a
    // cancelled job has no hurry of a few milliseconds.
    private static readonly TimeSpan s_cancellationPoll = TimeSpan.FromMilliseconds(20);

    private readonly Queue<T> _items = new(capacity);
    private bool _completed;

    /// <summary>Adds an item, waiting while the queue is full.</summary>
    /// <exception cref="InvalidOperationException">After <see cref="CompleteAdding"/>.</exception>
    public void Add(T item, CancellationToken cancellationToken)
    {
        lock (_items)
        {
            while (_items.Count >= capacity && !_completed)
            {
                Wait(cancellationToken);
            }

            if (_completed)
            {
                throw new InvalidOperationException("the queue was completed: no more items can be added.");
            }

            _items.Enqueue(item);
            Monitor.PulseAll(_items);
        }
    }

    /// <summary>Takes the oldest item, waiting while there is none; false once the queue is completed and empty.</summary>
    public bool TryTake(out T item, CancellationToken cancellationToken)
    {
        lock (_items)
        {
            while (_items.Count == 0 && !_completed)
            {
                Wait(cancellationToken);
            }

            if (_items.TryDequeue(out item!))
            {
                Monitor.PulseAll(_items);
                return true;
            }

            return false;
        }
    }

    /// <summary>Takes the oldest item, waiting while there is none.</summary>
    /// <exception cref="InvalidOperationException">The queue is completed and empty.</exception>
    public T Take(CancellationToken cancellationToken) => TryTake(out T item, cancellationToken)
        ? item
        : throw new InvalidOperationException("the queue is completed and empty.");

    /// <summary>No more items will come: takers get what is left, then false.</summary>
    public void CompleteAdding()
    {
        lock (_items)
        {
            _completed = true;
            Monitor.PulseAll(_items);
        }
    }

    private void Wait(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Monitor.Wait(_items, cancellationToken.CanBeCanceled ? s_cancellationPoll : Timeout.InfiniteTimeSpan);
        cancellationToken.ThrowIfCancellationRequested();
    }
}
