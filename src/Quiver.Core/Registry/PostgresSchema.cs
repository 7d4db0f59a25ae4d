namespace Quiver.Core.Registry;

/// <summary>The registry's tables in PostgreSQL. Append a migration to change them; never edit a released one.</summary>
internal static class PostgresSchema
{
    /// <summary>Creates the table that records applied migrations.</summary>
    public const string CreateMigrationsTable =
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)";

    /// <summary>Every migration, in version order.</summary>
    public static IReadOnlyList<RegistryMigration> Migrations { get; } =
    [
        new(1, """
            CREATE TABLE models (
                name text PRIMARY KEY,
                description text,
                created_at timestamptz NOT NULL,
                last_version bigint NOT NULL DEFAULT 0
            );
            CREATE TABLE versions (
                model text NOT NULL REFERENCES models (name),
                version bigint NOT NULL,
                sha256 text NOT NULL,
                size_bytes bigint NOT NULL,
                framework text NOT NULL,
                input_signature text,
                output_signature text,
                creator text,
                created_at timestamptz NOT NULL,
                description text,
                tags text NOT NULL,
                source_uri text,
                training_run_id text,
                config_json text,
                state text NOT NULL,
                reason text,
                wrapped_data_key bytea,
                key_id text,
                PRIMARY KEY (model, version)
            );
            CREATE INDEX versions_by_sha256 ON versions (model, sha256);
            CREATE TABLE aliases (
                model text NOT NULL,
                alias text NOT NULL,
                version bigint NOT NULL,
                PRIMARY KEY (model, alias),
                FOREIGN KEY (model, version) REFERENCES versions (model, version)
            );
            CREATE TABLE alias_history (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                model text NOT NULL REFERENCES models (name),
                alias text NOT NULL,
                version bigint,
                previous_version bigint,
                is_rollback boolean NOT NULL,
                changed_at timestamptz NOT NULL,
                changed_by text NOT NULL
            );
            CREATE INDEX alias_history_by_alias ON alias_history (model, alias, id);
            CREATE TABLE registry_state (
                id integer PRIMARY KEY CHECK (id = 1),
                revision bigint NOT NULL
            );
            INSERT INTO registry_state (id, revision) VALUES (1, 0);
            -- Artifact bytes, so any replica can fetch them; the artifacts row commits with all its chunks.
            CREATE TABLE artifacts (
                sha256 text PRIMARY KEY,
                size_bytes bigint NOT NULL,
                chunk_count integer NOT NULL,
                stored_at timestamptz NOT NULL
            );
            CREATE TABLE artifact_chunks (
                sha256 text NOT NULL REFERENCES artifacts (sha256),
                chunk_index integer NOT NULL,
                bytes bytea NOT NULL,
                PRIMARY KEY (sha256, chunk_index)
            );
            -- Model weights barely compress: keep chunks out of line and skip pglz's CPU.
            ALTER TABLE artifact_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;
            """),
        new(2, """
            CREATE TABLE replica_versions (
                replica text NOT NULL,
                model text NOT NULL,
                version bigint NOT NULL,
                state text NOT NULL,
                reason text,
                updated_at timestamptz NOT NULL,
                PRIMARY KEY (replica, model, version)
            );
            CREATE INDEX versions_by_artifact ON versions (sha256);
            """),
        new(3, """
            CREATE TABLE endpoints (
                name text PRIMARY KEY,
                definition text NOT NULL,
                updated_at timestamptz NOT NULL,
                updated_by text NOT NULL
            );
            """),
        new(4, """
            CREATE TABLE rollouts (
                model text PRIMARY KEY,
                state text NOT NULL,
                updated_at timestamptz NOT NULL
            );
            """),
        new(5, """
            CREATE TABLE batch_jobs (
                id text PRIMARY KEY,
                replica text NOT NULL,
                record text NOT NULL,
                updated_at timestamptz NOT NULL
            );
            """),
        new(6, """
            CREATE TABLE api_keys (
                id text PRIMARY KEY,
                name text NOT NULL,
                tenant text,
                roles text NOT NULL,
                secret_sha256 text NOT NULL,
                created_at timestamptz NOT NULL,
                expires_at timestamptz,
                revoked_at timestamptz
            );
            ALTER TABLE models ADD COLUMN owner_tenant text;
            """),
        // The tamper-evident audit log: rows are only ever inserted; see Security/Audit.
        new(7, """
            CREATE TABLE audit_log (
                sequence bigint PRIMARY KEY,
                recorded_at timestamptz NOT NULL,
                actor text NOT NULL,
                tenant text,
                action text NOT NULL,
                resource text NOT NULL,
                outcome text NOT NULL,
                source text,
                details text,
                previous_hash text NOT NULL,
                hash text NOT NULL
            );
            CREATE INDEX audit_log_by_time ON audit_log (recorded_at);
            CREATE TABLE audit_anchors (
                sequence bigint PRIMARY KEY,
                head_hash text NOT NULL,
                previous_mac text NOT NULL,
                created_at timestamptz NOT NULL,
                key_id text NOT NULL,
                mac text NOT NULL
            );
            """),
        // Data residency: the regions a version may be loaded in, a JSON array; NULL for anywhere.
        new(8, """
            ALTER TABLE versions ADD COLUMN allowed_regions text;
            """),
        new(10, """
            ALTER TABLE versions ADD COLUMN derived_from bigint;
            ALTER TABLE versions ADD COLUMN optimization_report text;
            """),
        new(13, """
            CREATE TABLE drift_baselines (
                model text NOT NULL,
                version bigint NOT NULL,
                features text NOT NULL,
                uploaded_at timestamptz NOT NULL,
                uploaded_by text NOT NULL,
                PRIMARY KEY (model, version)
            );
            """),
    ];
}
