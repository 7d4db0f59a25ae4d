using System.Diagnostics;
using System.Text;

namespace Quiver.Cli.Tests;

/// <summary>Runs the built <c>quiver</c> executable as a child process, as a user would.</summary>
internal sealed class QuiverProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();

    private QuiverProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(_output, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(_error, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string RepositoryRoot { get; } = FindRoot();

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public string Error
    {
        get
        {
            lock (_error)
            {
                return _error.ToString();
            }
        }
    }

    public static QuiverProcess Start(params string[] args) => StartWithEnvironment(new Dictionary<string, string>(), args);

    public static QuiverProcess StartWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "quiver.dll"));
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Every server gets its own registry and artifacts, so tests running side by side never share state.
        if (args.FirstOrDefault() == "serve" && !args.Contains("--data-dir") && !args.Contains("--help"))
        {
            info.ArgumentList.Add("--data-dir");
            info.ArgumentList.Add(Directory.CreateTempSubdirectory("quiver-cli-data-").FullName);
        }

        return new QuiverProcess(Process.Start(info)!);
    }

    /// <summary>The operating system's process id, e.g. for reading /proc/ID.</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process has ended (exited or crashed).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>Waits until standard output contains <paramref name="text"/>, or fails with what was printed.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"'{text}' never appeared. stdout:\n{Output}\nstderr:\n{Error}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Sends SIGTERM, as Kubernetes or Ctrl+C would, for a graceful stop.</summary>
    public void Terminate() => Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder builder, string? line)
    {
        if (line is not null)
        {
            lock (builder)
            {
                builder.AppendLine(line);
            }
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Quiver.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Quiver.slnx not found");
    }
}
