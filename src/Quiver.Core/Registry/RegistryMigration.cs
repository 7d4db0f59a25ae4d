namespace Quiver.Core.Registry;

/// <summary>One step of a dialect's schema; steps are applied in version order and never edited once released.</summary>
internal sealed record RegistryMigration(int Version, string Sql);
