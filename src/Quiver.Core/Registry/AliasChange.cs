namespace Quiver.Core.Registry;

/// <summary>
/// One change of an alias: <see cref="Version"/> is null when the alias was removed,
/// <see cref="PreviousVersion"/> null when it was created; <see cref="IsRollback"/> marks changes made by a rollback.
/// </summary>
public sealed record AliasChange(
    string Model,
    string Alias,
    long? Version,
    long? PreviousVersion,
    DateTimeOffset ChangedAt,
    string ChangedBy,
    bool IsRollback);
