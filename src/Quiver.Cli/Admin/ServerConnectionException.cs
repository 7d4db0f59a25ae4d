namespace Quiver.Cli.Admin;

/// <summary>No answer from the server (connection refused, unknown host, timeout, connection lost): exit code 1, naming the address.</summary>
public sealed class ServerConnectionException(string message, Exception? inner = null) : Exception(message, inner);
