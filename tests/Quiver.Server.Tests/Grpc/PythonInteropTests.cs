using System.Diagnostics;
using Xunit.Abstractions;

namespace Quiver.Server.Tests.Grpc;

/// <summary>
/// gRPC interop with an independent implementation: Debian's Python grpcio, with stubs generated from
/// the project's .proto files by grpc_tools, calling the real server (Interop/grpc_interop.py).
/// </summary>
public sealed class PythonInteropTests(ModelRepositoryFixture fixture, ITestOutputHelper output) : IClassFixture<ModelRepositoryFixture>
{
    private const string Python = "/usr/bin/python3";

    [SkippableFact]
    public async Task PythonGrpcioClient_PassesEveryCheck()
    {
        Skip.IfNot(HasGrpcio(), "SKIPPED LOUDLY: Debian's python3-grpcio and python3-grpc-tools are not installed, so the Python gRPC " +
            "interop test cannot run. Install them with: apt-get install -y python3-grpcio python3-grpc-tools (.ci/run does).");
        string scratch = Directory.CreateTempSubdirectory("quiver-grpc-py-").FullName;
        try
        {
            Uri address = fixture.Server.Server.GrpcAddress;
            var (exitCode, text) = await RunAsync(
                Path.Combine(RepositoryRoot.Path, "tests", "Quiver.Server.Tests", "Grpc", "Interop", "grpc_interop.py"),
                $"{address.Host}:{address.Port}",
                Path.Combine(RepositoryRoot.Path, "src", "Quiver.Server", "Grpc", "Proto"),
                scratch);
            output.WriteLine(text);

            Assert.True(exitCode == 0, text);
            Assert.Contains("0 failed", text);
            Assert.Contains("PASS ModelStreamInfer ids", text);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static bool HasGrpcio() =>
        File.Exists(Python) && RunAsync("-c", "import grpc, grpc_tools").GetAwaiter().GetResult().ExitCode == 0;

    private static async Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
