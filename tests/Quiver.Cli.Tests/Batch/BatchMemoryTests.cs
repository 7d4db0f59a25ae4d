using System.Globalization;

namespace Quiver.Cli.Tests.Batch;

/// <summary>
/// Streaming: the real <c>quiver batch run</c> process's peak resident memory (VmHWM in /proc) on an input ten times
/// larger stays within a generous margin of the peak on the smaller one. A run that held the input or the output in
/// memory would grow by tens of megabytes with the larger file. No timing is asserted.
/// </summary>
public sealed class BatchMemoryTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(10);
    private readonly BatchCliFiles _files = new();

    public void Dispose() => _files.Dispose();

    [SkippableFact]
    public async Task PeakMemory_DoesNotGrowWithTheInputSize()
    {
        Skip.IfNot(File.Exists("/proc/self/status"), "reads peak memory from /proc/PID/status (Linux)");
        string model = _files.SmallMlp();
        // 50,000 and 500,000 rows: about 1.5 MB and 15 MB of CSV in, 3.3 MB and 33 MB of JSON lines out. Measured here:
        // peaks of 89 MB and 98 MB for 30,000 and 300,000 rows (the GC heap settles a little higher on a longer run).
        string small = _files.Csv("small.csv", 50_000, 4);
        string large = _files.Csv("large.csv", 500_000, 4);

        long smallPeak = await PeakKilobytesAsync(model, small, "small.jsonl");
        long largePeak = await PeakKilobytesAsync(model, large, "large.jsonl");

        // The margin: 32 MB or a quarter of the small run's peak, whichever is more (GC heap sizing varies run to run);
        // holding the larger input as strings, or its output, would take more than that.
        long allowed = smallPeak + Math.Max(32 * 1024, smallPeak / 4);
        Assert.True(largePeak <= allowed,
            $"peak RSS {largePeak} kB on 10x the input vs {smallPeak} kB (allowed {allowed} kB): memory grows with the input");
        Assert.Equal(500_000, File.ReadLines(_files.Path("large.jsonl")).Count());
    }

    /// <summary>
    /// Runs the job to its end, sampling the process's high-water mark of resident memory until it exits. The sampler
    /// is a thread of its own: on a busy box the thread pool can fall seconds behind, and a job of a second or two
    /// would end between two samples (once, in CI, the only sample was taken at exec: 20 kB).
    /// </summary>
    private async Task<long> PeakKilobytesAsync(string model, string input, string output)
    {
        using QuiverProcess job = QuiverProcess.Start("batch", "run", "--model", model, "--input", input, "--output", _files.Path(output),
            "--batch-size", "64", "--threads", "1");
        long peak = 0;
        int samples = 0;
        var sampler = new Thread(() =>
        {
            while (!job.HasExited)
            {
                // VmHWM only grows, so the last sample before exit is (close to) the peak of the whole run.
                if (ReadHighWaterMark(job.Id) is { } kilobytes)
                {
                    peak = Math.Max(peak, kilobytes);
                    samples++;
                }

                Thread.Sleep(2);
            }
        })
        { IsBackground = true, Priority = ThreadPriority.AboveNormal, Name = "VmHWM sampler" };
        sampler.Start();

        int code = await job.WaitForExitAsync(s_timeout);
        sampler.Join();
        Assert.True(code == 0, $"exit {code}\n{job.Output}\n{job.Error}");
        // The runtime alone takes tens of megabytes; less means no sample fell inside the run.
        Assert.True(peak > 16 * 1024, $"the peak of {peak} kB from {samples} sample(s) was not taken while the job ran");
        return peak;
    }

    private static long? ReadHighWaterMark(int processId)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{processId}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // The process ended between the check and the read.
        }

        return null; // an exited (zombie) process has no memory lines
    }
}
