namespace Quiver.Cli.Bench;

/// <summary>A problem the user can fix (bad argument, unknown model, server unreachable): printed as one line, exit code 1.</summary>
public sealed class BenchException(string message) : Exception(message);
