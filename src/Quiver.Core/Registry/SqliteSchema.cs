namespace Quiver.Core.Registry;

/// <summary>The registry's tables in SQLite. Append a migration to change them; never edit a released one.</summary>
internal static class SqliteSchema
{
    /// <summary>Creates the table that records applied migrations.</summary>
    public const string CreateMigrationsTable =
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)";

    /// <summary>Every migration, in version order.</summary>
    public static IReadOnlyList<RegistryMigration> Migrations { get; } =
    [
        new(1, """
            CREATE TABLE models (
                name TEXT PRIMARY KEY,
                description TEXT,
                created_at TEXT NOT NULL,
                last_version INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE versions (
                model TEXT NOT NULL REFERENCES models (name),
                version INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                size_bytes INTEGER NOT NULL,
                framework TEXT NOT NULL,
                input_signature TEXT,
                output_signature TEXT,
                creator TEXT,
                created_at TEXT NOT NULL,
                description TEXT,
                tags TEXT NOT NULL,
                source_uri TEXT,
                training_run_id TEXT,
                config_json TEXT,
                state TEXT NOT NULL,
                reason TEXT,
                wrapped_data_key BLOB,
                key_id TEXT,
                PRIMARY KEY (model, version)
            );
            CREATE INDEX versions_by_sha256 ON versions (model, sha256);
            CREATE TABLE aliases (
                model TEXT NOT NULL,
                alias TEXT NOT NULL,
                version INTEGER NOT NULL,
                PRIMARY KEY (model, alias),
                FOREIGN KEY (model, version) REFERENCES versions (model, version)
            );
            CREATE TABLE alias_history (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                model TEXT NOT NULL REFERENCES models (name),
                alias TEXT NOT NULL,
                version INTEGER,
                previous_version INTEGER,
                is_rollback INTEGER NOT NULL,
                changed_at TEXT NOT NULL,
                changed_by TEXT NOT NULL
            );
            CREATE INDEX alias_history_by_alias ON alias_history (model, alias, id);
            CREATE TABLE registry_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                revision INTEGER NOT NULL
            );
            INSERT INTO registry_state (id, revision) VALUES (1, 0);
            """),
        new(2, """
            CREATE TABLE replica_versions (
                replica TEXT NOT NULL,
                model TEXT NOT NULL,
                version INTEGER NOT NULL,
                state TEXT NOT NULL,
                reason TEXT,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (replica, model, version)
            );
            CREATE INDEX versions_by_artifact ON versions (sha256);
            """),
        new(3, """
            CREATE TABLE endpoints (
                name TEXT PRIMARY KEY,
                definition TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                updated_by TEXT NOT NULL
            );
            """),
        new(4, """
            CREATE TABLE rollouts (
                model TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            """),
        new(5, """
            CREATE TABLE batch_jobs (
                id TEXT PRIMARY KEY,
                replica TEXT NOT NULL,
                record TEXT NOT NULL,
                updated_at TEXT NOT NULL
            );
            """),
        new(6, """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                tenant TEXT,
                roles TEXT NOT NULL,
                secret_sha256 TEXT NOT NULL,
                created_at TEXT NOT NULL,
                expires_at TEXT,
                revoked_at TEXT
            );
            ALTER TABLE models ADD COLUMN owner_tenant TEXT;
            """),
        // The tamper-evident audit log: rows are only ever inserted; see Security/Audit.
        new(7, """
            CREATE TABLE audit_log (
                sequence INTEGER PRIMARY KEY,
                recorded_at TEXT NOT NULL,
                actor TEXT NOT NULL,
                tenant TEXT,
                action TEXT NOT NULL,
                resource TEXT NOT NULL,
                outcome TEXT NOT NULL,
                source TEXT,
                details TEXT,
                previous_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            );
            CREATE INDEX audit_log_by_time ON audit_log (recorded_at);
            CREATE TABLE audit_anchors (
                sequence INTEGER PRIMARY KEY,
                head_hash TEXT NOT NULL,
                previous_mac TEXT NOT NULL,
                created_at TEXT NOT NULL,
                key_id TEXT NOT NULL,
                mac TEXT NOT NULL
            );
            """),
        // Data residency: the regions a version may be loaded in, a JSON array; NULL for anywhere.
        new(8, """
            ALTER TABLE versions ADD COLUMN allowed_regions TEXT;
            """),
        new(10, """
            ALTER TABLE versions ADD COLUMN derived_from INTEGER;
            ALTER TABLE versions ADD COLUMN optimization_report TEXT;
            """),
        new(13, """
            CREATE TABLE drift_baselines (
                model TEXT NOT NULL,
                version INTEGER NOT NULL,
                features TEXT NOT NULL,
                uploaded_at TEXT NOT NULL,
                uploaded_by TEXT NOT NULL,
                PRIMARY KEY (model, version)
            );
            """),
    ];
}
