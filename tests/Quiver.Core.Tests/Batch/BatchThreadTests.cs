using Quiver.Core.Batch;

namespace Quiver.Core.Tests.Batch;

public sealed class BatchThreadTests
{
    [Fact]
    public void WriterThread_RunsEachWriteOffTheCallersThread_AndWaitReturnsAfterIt()
    {
        using var writer = new WriterThread();
        int caller = Environment.CurrentManagedThreadId;
        var seen = new List<int>();

        for (int i = 0; i < 3; i++)
        {
            writer.Start(() =>
            {
                Thread.Sleep(20);
                lock (seen)
                {
                    seen.Add(Environment.CurrentManagedThreadId);
                }
            });
            writer.Wait();
            Assert.Equal(i + 1, seen.Count);
        }

        Assert.Single(seen.Distinct());
        Assert.NotEqual(caller, seen[0]);
    }

    [Fact]
    public void WriterThread_Wait_ThrowsWhatTheWriteThrew_AndTheThreadKeepsWriting()
    {
        using var writer = new WriterThread();
        writer.Start(() => throw new IOException("No space left on device"));

        var error = Assert.Throws<IOException>(writer.Wait);

        Assert.Equal("No space left on device", error.Message);
        bool wrote = false;
        writer.Start(() => wrote = true);
        writer.Wait();
        Assert.True(wrote);
    }

    [Fact]
    public void WriterThread_StartWhileAWriteIsRunning_IsRefused()
    {
        using var writer = new WriterThread();
        using var release = new ManualResetEventSlim();
        writer.Start(release.Wait);

        Assert.Throws<InvalidOperationException>(() => writer.Start(() => { }));

        release.Set();
        writer.Wait();
    }

    [Fact]
    public void WriterThread_Dispose_LetsAStartedWriteFinish()
    {
        bool finished = false;
        var writer = new WriterThread();
        writer.Start(() =>
        {
            Thread.Sleep(100);
            finished = true;
        });

        writer.Dispose();

        Assert.True(finished);
    }

    [SkippableFact]
    public void BackgroundPriority_OnLinux_LowersTheCallingThreadOnly()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "thread nice values are read from Linux's /proc");
        int mine = NiceOfThisThread();
        int before = -1, lowered = -1;
        bool ok = false;
        var thread = new Thread(() =>
        {
            before = NiceOfThisThread();
            ok = BackgroundPriority.LowerCurrentThread();
            lowered = NiceOfThisThread();
        });

        thread.Start();
        thread.Join();

        Assert.True(ok);
        Assert.Equal(mine, before);
        Assert.Equal(BackgroundPriority.Nice, lowered);
        Assert.Equal(mine, NiceOfThisThread());
    }

    [SkippableFact]
    public void WriterThread_LowPriority_WritesAtTheLowestPriority()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "thread nice values are read from Linux's /proc");
        using var writer = new WriterThread(lowPriority: true);
        int nice = 0;

        writer.Start(() => nice = NiceOfThisThread());
        writer.Wait();

        Assert.Equal(BackgroundPriority.Nice, nice);
    }

    // Field 19 of /proc/thread-self/stat; the command name (field 2) is in parentheses and may hold spaces.
    private static int NiceOfThisThread()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[19 - 3]);
    }
}
