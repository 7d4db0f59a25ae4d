namespace Quiver.Core.Registry;

/// <summary>Where a registered version is in its lifecycle; <see cref="Retired"/> is final.</summary>
public enum VersionState
{
    /// <summary>Recorded, its artifact stored, not yet loaded by any server.</summary>
    Registered,

    /// <summary>A server is loading it.</summary>
    Loading,

    /// <summary>Loaded and serving.</summary>
    Ready,

    /// <summary>Loading or validating it failed; the reason says why.</summary>
    Failed,

    /// <summary>Taken out of service for good; no alias may point at it.</summary>
    Retired,
}
