namespace Quiver.Core.Models;

/// <summary>Where a model version stands.</summary>
public enum ModelState
{
    /// <summary>Loaded and serving.</summary>
    Ready,

    /// <summary>Could not be loaded; the reason says why.</summary>
    Failed,

    /// <summary>Unloaded through the repository extension; loading the model again brings it back.</summary>
    Unloaded,
}

/// <summary>One version of a model as this server serves it, loaded or not.</summary>
public sealed record ModelVersionStatus(string ModelName, long Version, ModelState State, string? Reason, ServedModel? Model)
{
    /// <summary>What was loaded (artifact, configuration): the same key means a reload would load the same thing.</summary>
    public string? LoadKey { get; init; }
}
