namespace Quiver.Core.Registry;

/// <summary>A model name in the registry; created by its first registered version.</summary>
public sealed record RegisteredModel(string Name, string? Description, DateTimeOffset CreatedAt);
