using System.Diagnostics;
using Quiver.Core.Scheduling;

namespace Quiver.Core.Tests.Scheduling;

/// <summary>Batch-class work keeps a small share of an instance's time while online requests come in, and all of it otherwise.</summary>
public sealed class BatchShareTests
{
    private static long Ms(double milliseconds) => (long)(milliseconds * Stopwatch.Frequency / 1000);

    // The pause after a batch run of d ms while online requests come in.
    private static double Pause(double d) => d * (1 - BatchShare.Share) / BatchShare.Share;

    [Fact]
    public void WithoutOnlineRequests_BatchWorkRunsBackToBack()
    {
        var share = new BatchShare();

        share.BatchRan(Ms(1000), Ms(1010));

        Assert.Equal(TimeSpan.Zero, share.BatchWait(Ms(1010)));
    }

    [Fact]
    public void WhileOnlineRequestsComeIn_ABatchRunIsFollowedByAPauseThatKeepsItToItsShare()
    {
        var share = new BatchShare();
        share.OnlineArrived(Ms(1000));

        share.BatchRan(Ms(1000), Ms(1001));

        Assert.Equal(Pause(1), share.BatchWait(Ms(1001)).TotalMilliseconds, 3);
        Assert.Equal(Pause(1) - 1, share.BatchWait(Ms(1002)).TotalMilliseconds, 3);
        Assert.Equal(TimeSpan.Zero, share.BatchWait(Ms(1001 + Pause(1))));
        Assert.Equal(BatchShare.Share, 1 / (1 + Pause(1)), 6);
    }

    [Fact]
    public void WhenOnlineRequestsStop_ThePauseEndsOnceTheyHaveBeenQuietLongEnough()
    {
        var share = new BatchShare();
        share.OnlineArrived(Ms(1000));

        share.BatchRan(Ms(1000), Ms(1050)); // a long batch: a pause longer than the quiet time

        double quiet = BatchShare.OnlineQuietAfter.TotalMilliseconds;
        Assert.True(Pause(50) > quiet);
        Assert.Equal(quiet - 50, share.BatchWait(Ms(1050)).TotalMilliseconds, 3);
        Assert.Equal(TimeSpan.Zero, share.BatchWait(Ms(1000 + quiet)));
    }

    [Fact]
    public void AnOnlineRequestDuringThePause_KeepsItGoing()
    {
        var share = new BatchShare();
        share.OnlineArrived(Ms(1000));
        share.BatchRan(Ms(1000), Ms(1050));
        double quiet = BatchShare.OnlineQuietAfter.TotalMilliseconds;

        Assert.Equal(TimeSpan.Zero, share.BatchWait(Ms(1000 + quiet)));

        share.OnlineArrived(Ms(1000 + quiet + 10));

        // Still within the pause, and online traffic is active again for the quiet time.
        Assert.Equal(quiet - 10, share.BatchWait(Ms(1000 + quiet + 20)).TotalMilliseconds, 3);
    }
}
