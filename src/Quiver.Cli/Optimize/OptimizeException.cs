namespace Quiver.Cli.Optimize;

/// <summary>A problem the user can fix (bad argument, unreadable model, data that does not fit): one line on stderr, exit code 1.</summary>
public sealed class OptimizeException(string message) : Exception(message);
