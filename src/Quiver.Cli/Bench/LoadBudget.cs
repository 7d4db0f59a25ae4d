using System.Diagnostics;

namespace Quiver.Cli.Bench;

/// <summary>How long a load phase lasts: until a deadline, or until a number of requests has been handed out.</summary>
public abstract class LoadBudget
{
    /// <summary>True when the worker may send one more request.</summary>
    public abstract bool TryTake();

    /// <summary>A budget that ends <paramref name="duration"/> from now.</summary>
    public static LoadBudget For(TimeSpan duration) => new DeadlineBudget(Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency));

    /// <summary>A budget of exactly <paramref name="requests"/> requests shared by every worker.</summary>
    public static LoadBudget Of(long requests) => new CountBudget(requests);

    private sealed class DeadlineBudget(long deadline) : LoadBudget
    {
        public override bool TryTake() => Stopwatch.GetTimestamp() < deadline;
    }

    // One atomic decrement per request: no lock on the hot path.
    private sealed class CountBudget(long requests) : LoadBudget
    {
        private long _remaining = requests;

        public override bool TryTake() => Interlocked.Decrement(ref _remaining) >= 0;
    }
}
