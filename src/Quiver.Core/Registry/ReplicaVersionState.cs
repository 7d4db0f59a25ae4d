namespace Quiver.Core.Registry;

/// <summary>What one server replica last reported about one version of a model.</summary>
public sealed record ReplicaVersionState(string Replica, long Version, VersionState State, string? Reason, DateTimeOffset UpdatedAt);
