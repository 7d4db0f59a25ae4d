using System.Diagnostics;

namespace Quiver.Core.Scheduling;

/// <summary>
/// How much of a model's instance time batch-class work may take while online requests are coming in: after a batch
/// run of duration d, the next one waits d × (1 − share) / share, so batch work keeps at most <see cref="Share"/> of
/// the time. Priority alone is not enough: an online request that arrives while a batch runs still waits for it, and
/// the batch's computation takes CPU the online requests' network and JSON work needs. With no online request for
/// <see cref="OnlineQuietAfter"/>, batch work runs back to back. Timestamps are <see cref="Stopwatch"/> ticks.
/// 2 %: on a 2-core host, online p99 with a job running was 2.2–4.0 ms at 2 % and 4.1–5.7 ms at 10 % and 25 %
/// (docs/benchmarks.md); under steady online load a job then moves at a few thousand rows a second.
/// </summary>
internal sealed class BatchShare
{
    public const double Share = 0.02;

    public static readonly TimeSpan OnlineQuietAfter = TimeSpan.FromMilliseconds(100);

    private static readonly long QuietTicks = (long)(OnlineQuietAfter.TotalSeconds * Stopwatch.Frequency);

    private long _lastOnline = long.MinValue;
    private long _batchAllowedAt = long.MinValue;

    /// <summary>An online request was queued.</summary>
    public void OnlineArrived(long now) => _lastOnline = now;

    /// <summary>A batch-class run took from <paramref name="start"/> to <paramref name="end"/>.</summary>
    public void BatchRan(long start, long end) =>
        _batchAllowedAt = end + (long)((end - start) * (1 - Share) / Share);

    /// <summary>How long batch-class work must still wait; zero when it may run now.</summary>
    public TimeSpan BatchWait(long now)
    {
        bool onlineActive = _lastOnline != long.MinValue && now - _lastOnline < QuietTicks;
        if (!onlineActive || now >= _batchAllowedAt)
        {
            return TimeSpan.Zero;
        }

        // Online traffic may go quiet before the pause ends: look again by then at the latest.
        long until = Math.Min(_batchAllowedAt, _lastOnline + QuietTicks);
        return Stopwatch.GetElapsedTime(now, until);
    }
}
