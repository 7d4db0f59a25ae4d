using System.Globalization;

namespace Quiver.Cli.Bench;

/// <summary>Reads a process's resident memory from Linux's /proc/PID/status.</summary>
public static class ProcessMemory
{
    /// <summary>VmRSS in KiB; a <see cref="BenchException"/> when the process or the file is not there.</summary>
    public static long ResidentKib(int pid)
    {
        string path = $"/proc/{pid}/status";
        try
        {
            foreach (string line in File.ReadLines(path))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BenchException($"--server-pid {pid}: cannot read {path}: {e.Message}");
        }

        throw new BenchException($"--server-pid {pid}: {path} has no VmRSS line.");
    }
}
