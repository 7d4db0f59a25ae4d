namespace Quiver.Cli.Admin;

/// <summary>A bad argument found before anything is sent (missing file, invalid config, bad address): exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
