namespace Quiver.Server.Security;

/// <summary>
/// A token bucket on a <see cref="TimeProvider"/>'s timestamps: <c>rate</c> tokens a second up to <c>size</c>, one per
/// request. Starts full, so a caller's first burst goes through. Thread-safe.
/// </summary>
internal sealed class TokenBucket(double rate, double size, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly double _size = size;
    private double _tokens = size;
    private long _updated = time.GetTimestamp();

    /// <summary>Takes a token; when there is none, false and how long until one is there.</summary>
    public bool TryTake(out TimeSpan retryAfter)
    {
        lock (_lock)
        {
            Refill();
            if (_tokens >= 1)
            {
                _tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / rate);
            return false;
        }
    }

    /// <summary>Gives back a token taken for a request that another limit then refused.</summary>
    public void Return()
    {
        lock (_lock)
        {
            _tokens = Math.Min(_size, _tokens + 1);
        }
    }

    /// <summary>Whether the bucket has refilled to its size: a caller with a full bucket has no history worth keeping.</summary>
    public bool IsFull
    {
        get
        {
            lock (_lock)
            {
                Refill();
                return _tokens >= _size;
            }
        }
    }

    private void Refill()
    {
        long now = time.GetTimestamp();
        _tokens = Math.Min(_size, _tokens + (time.GetElapsedTime(_updated, now).TotalSeconds * rate));
        _updated = now;
    }
}
