namespace Quiver.Cli.Admin;

/// <summary>A successful admin API answer: parsed for tables, and the server's own text for <c>--json</c>.</summary>
public sealed record AdminReply<T>(T Value, string Json);
