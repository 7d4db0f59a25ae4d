using System.Diagnostics;
using Quiver.Core.Scheduling;

namespace Quiver.Core.Tests.Scheduling;

/// <summary>Batch-class work keeps a quarter of an instance's time while online requests come in, and all of it otherwise.</summary>
public sealed class BatchShareTests
{
    private static long Ms(double milliseconds) => (long)(milliseconds * Stopwatch.Frequency / 1000);

    [Fact]
    public void WithoutOnlineRequests_BatchWorkRunsBackToBack()
    {
        var share = new BatchShare();

        share.BatchRan(Ms(1000), Ms(1010));

        Assert.Equal(TimeSpan.Zero, share.BatchWait(Ms(1010)));
    }

    [Fact]
    public void WhileOnlineRequestsComeIn_ABatchRunIsFollowedByThreeTimesItsLengthOfPause()
    {
        var share = new BatchShare();
        share.OnlineArrived(Ms(1000));

        share.BatchRan(Ms(1000), Ms(1010));

        Assert.Equal(30, share.BatchWait(Ms(1010)).TotalMilliseconds, 3);
        Assert.Equal(10, share.BatchWait(Ms(1030)).TotalMilliseconds, 3);
        Assert.Equal(TimeSpan.Zero, share.BatchWait(Ms(1040)));
    }

    [Fact]
    public void WhenOnlineRequestsStop_ThePauseEndsOnceTheyHaveBeenQuietLongEnough()
    {
        var share = new BatchShare();
        share.OnlineArrived(Ms(1000));

        share.BatchRan(Ms(1000), Ms(1100)); // a long batch: a 300 ms pause while online traffic lasts

        double quiet = BatchShare.OnlineQuietAfter.TotalMilliseconds;
        Assert.Equal(quiet - 100, share.BatchWait(Ms(1100)).TotalMilliseconds, 3);
        Assert.Equal(TimeSpan.Zero, share.BatchWait(Ms(1000 + quiet)));
    }

    [Fact]
    public void AnOnlineRequestDuringThePause_KeepsItGoing()
    {
        var share = new BatchShare();
        share.OnlineArrived(Ms(1000));
        share.BatchRan(Ms(1000), Ms(1100));

        Assert.Equal(TimeSpan.Zero, share.BatchWait(Ms(1000 + BatchShare.OnlineQuietAfter.TotalMilliseconds)));

        share.OnlineArrived(Ms(1150));

        // Still within the 300 ms pause, and online traffic is active again until 1150 + the quiet time.
        Assert.Equal(BatchShare.OnlineQuietAfter.TotalMilliseconds - 50, share.BatchWait(Ms(1200)).TotalMilliseconds, 3);
    }
}
