namespace Quiver.Cli.Models;

/// <summary>A bad argument found before anything is sent (missing file, invalid config, bad address): exit code 2.</summary>
public sealed class ModelsUsageException(string message) : Exception(message);
