namespace Quiver.Core.Registry;

/// <summary>A model name in the registry; created by its first registered version.</summary>
public sealed record RegisteredModel(string Name, string? Description, DateTimeOffset CreatedAt)
{
    /// <summary>The tenant that owns the model; null for a model shared by every tenant.</summary>
    public string? Tenant { get; init; }
}
