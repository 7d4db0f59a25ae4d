using System.Runtime.InteropServices;

namespace Quiver.Core.Batch;

/// <summary>
/// Lowers the operating system's scheduling priority of the calling thread, so that a server's batch jobs take only
/// the CPU its requests leave. For a job's own reader and writer threads only: on Linux a thread's priority (nice
/// value) is inherited by every thread it starts, thread-pool threads included, and those must not serve requests at
/// it. .NET's <see cref="Thread.Priority"/> does nothing on Linux, hence the system call.
/// </summary>
internal static class BackgroundPriority
{
    /// <summary>The lowest priority Linux has: such a thread gets about 1.5 % of a CPU that normal threads want.</summary>
    public const int Nice = 19;

    private const int PriorityOfAProcess = 0; // PRIO_PROCESS: on Linux, "process" here is a thread id

    /// <summary>
    /// Returns whether the priority was lowered: false on other systems, or where the C library cannot be loaded or
    /// refuses. Never throws: a job runs at normal priority rather than not at all.
    /// </summary>
    public static bool LowerCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return setpriority(PriorityOfAProcess, gettid(), Nice) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc")]
    private static extern int setpriority(int which, int who, int priority);

    [DllImport("libc")]
    private static extern int gettid();
}
