namespace Quiver.Server.Rest;

/// <summary>
/// What one JSON inference request may hold, checked while it is decoded so a hostile body is refused before it
/// costs memory or time. Larger tensors belong in the binary tensor extension, bounded by the body size alone.
/// </summary>
/// <param name="MaxDepth">
/// Deepest nesting of objects and arrays. Defaults to 32: a rank-8 tensor sent as nested arrays needs 11 levels.
/// </param>
/// <param name="MaxElements">
/// Most JSON values in the request's tensors and lists (data elements, inputs, outputs, parameters) together.
/// Defaults to 8 Mi (8,388,608): at 8 bytes an element that decodes to 64 MiB, the default body limit.
/// </param>
public sealed record JsonRequestLimits(int MaxDepth = 32, long MaxElements = 8L * 1024 * 1024)
{
    public static JsonRequestLimits Default { get; } = new();
}
