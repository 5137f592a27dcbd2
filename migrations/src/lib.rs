//! molts-migrations: the one schema source of molts.
//!
//! Each migration is a list of plain sea-query statements returned by a pure function, so the same
//! source serves two consumers: [`Migrator`] runs them against a live connection (SQLite or
//! PostgreSQL through molts-sea-orm), and [`sqlite_sql`] renders them as SQLite SQL with no
//! database at all, which is what Cloudflare D1's migration files are made from.
//!
//! Schema conventions, chosen so SQLite, PostgreSQL and D1 store the same values: text ids as
//! primary keys, timestamps as BIGINT unix milliseconds, JSON as TEXT, booleans as booleans, and
//! no foreign keys (D1 cannot enforce them across its migration model; deletes that cascade are
//! done explicitly by the store).

mod m20261124_000001_initial;
mod m20261124_000002_jobs;
mod m20261124_000003_ledger_indexes;
mod m20261124_000004_rate_windows;
mod m20261124_000005_rate_windows_expiry;
mod m20261208_000006_storage;
mod m20261208_000007_request_log;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

/// Re-exported so callers can run [`Migrator`] without depending on sea-orm-migration.
pub use sea_orm_migration::MigratorTrait;

/// One schema statement of a migration.
#[derive(Debug, Clone)]
pub enum SchemaStatement {
    /// `CREATE TABLE`.
    Table(TableCreateStatement),
    /// `CREATE INDEX` (unique or not).
    Index(IndexCreateStatement),
    /// `DROP INDEX`.
    DropIndex(IndexDropStatement),
    /// `ALTER TABLE`, one change each (SQLite alters one column per statement).
    Alter(TableAlterStatement),
    /// PostgreSQL-only SQL (a storage setting SQLite has no counterpart for): skipped on SQLite
    /// and absent from the D1 files.
    PostgresOnly(&'static str),
}

impl SchemaStatement {
    /// The statement in `backend`'s dialect, ready to execute; `None` where it does not apply.
    pub fn build(&self, backend: DbBackend) -> Option<Statement> {
        Some(match self {
            Self::Table(stmt) => backend.build(stmt),
            Self::Index(stmt) => backend.build(stmt),
            Self::DropIndex(stmt) => backend.build(stmt),
            Self::Alter(stmt) => backend.build(stmt),
            Self::PostgresOnly(sql) => match backend {
                DbBackend::Postgres => Statement::from_string(backend, *sql),
                _ => return None,
            },
        })
    }

    /// The statement as SQLite SQL text (no trailing semicolon); `None` where it does not apply.
    pub fn to_sqlite(&self) -> Option<String> {
        Some(match self {
            Self::Table(stmt) => stmt.to_string(SqliteQueryBuilder),
            Self::Index(stmt) => stmt.to_string(SqliteQueryBuilder),
            Self::DropIndex(stmt) => stmt.to_string(SqliteQueryBuilder),
            Self::Alter(stmt) => stmt.to_string(SqliteQueryBuilder),
            Self::PostgresOnly(_) => return None,
        })
    }
}

/// A migration as data: its name (as recorded in `seaql_migrations`) and its statements.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The migration's name, `mYYYYMMDD_NNNNNN_what`.
    pub name: &'static str,
    /// Builds the migration's statements; pure, no database needed.
    pub statements: fn() -> Vec<SchemaStatement>,
    /// Tables the migration creates, dropped in reverse by `down`.
    pub tables: &'static [&'static str],
}

/// Every migration, oldest first. Append new ones; never edit an applied one.
pub const STEPS: &[Step] = &[
    m20261124_000001_initial::STEP,
    m20261124_000002_jobs::STEP,
    m20261124_000003_ledger_indexes::STEP,
    m20261124_000004_rate_windows::STEP,
    m20261124_000005_rate_windows_expiry::STEP,
    m20261208_000006_storage::STEP,
    m20261208_000007_request_log::STEP,
];

/// Every migration rendered as SQLite SQL: `(migration name, SQL script)`, oldest first. Each
/// script is the migration's statements separated by `;` and newlines.
pub fn sqlite_sql() -> Vec<(String, String)> {
    STEPS
        .iter()
        .map(|step| {
            let sql = (step.statements)()
                .iter()
                .filter_map(SchemaStatement::to_sqlite)
                .map(|sql| format!("{sql};\n"))
                .collect::<String>();
            (step.name.to_owned(), sql)
        })
        .collect()
}

/// Where the D1 migration files live, relative to the workspace root.
pub const D1_MIGRATIONS_DIR: &str = "runtimes/cloudflare/migrations";

/// Every migration as a Cloudflare D1 migration file: `(file name, contents)`, oldest first.
/// Names are `NNNN_<migration name>.sql` (wrangler applies them in that order and records them in
/// its `d1_migrations` table); contents are [`sqlite_sql`]'s under a header saying where they come
/// from. The files in [`D1_MIGRATIONS_DIR`] are written from this and a test fails if they differ
/// (`MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files` rewrites them).
pub fn d1_migration_files() -> Vec<(String, String)> {
    sqlite_sql()
        .into_iter()
        .enumerate()
        .map(|(i, (name, sql))| {
            let file = format!("{:04}_{name}.sql", i + 1);
            let text = format!(
                "-- Generated from the molts-migrations crate (migration {name}); do not edit.\n\
                 -- Regenerate: MOLTS_WRITE_D1_MIGRATIONS=1 cargo test -p molts-migrations --test d1_files\n\
                 {sql}"
            );
            (file, text)
        })
        .collect()
}

/// Runs [`STEPS`] through sea-orm-migration's bookkeeping (`seaql_migrations`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        STEPS
            .iter()
            .map(|step| Box::new(StepMigration(*step)) as Box<dyn MigrationTrait>)
            .collect()
    }
}

/// Adapts a [`Step`] to sea-orm-migration's trait: `up` only executes the step's statements.
struct StepMigration(Step);

impl MigrationName for StepMigration {
    fn name(&self) -> &str {
        self.0.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for StepMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        for stmt in (self.0.statements)()
            .iter()
            .filter_map(|s| s.build(backend))
        {
            manager.get_connection().execute(stmt).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in self.0.tables.iter().rev() {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(*table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_sql_creates_every_table_and_index() {
        let rendered = sqlite_sql();
        assert_eq!(rendered.len(), STEPS.len());
        let (name, sql) = &rendered[0];
        assert_eq!(name, "m20261124_000001_initial");
        for table in STEPS[0].tables {
            assert!(
                sql.contains(&format!("CREATE TABLE IF NOT EXISTS \"{table}\"")),
                "no CREATE TABLE for {table} in:\n{sql}"
            );
        }
        assert!(sql.contains("CREATE UNIQUE INDEX IF NOT EXISTS \"ux_agents_instance_email\""));
        assert!(sql.contains("CREATE INDEX IF NOT EXISTS \"idx_api_keys_prefix\""));
        assert!(!sql.contains("FOREIGN KEY"));
    }

    #[test]
    fn the_ledger_keeps_only_the_open_holds_indexed() {
        let (name, sql) = &sqlite_sql()[2];
        assert_eq!(name, "m20261124_000003_ledger_indexes");
        assert!(sql.contains("DROP INDEX IF EXISTS \"idx_quota_reservations_agent\""));
        assert!(sql.contains(
            "CREATE INDEX IF NOT EXISTS \"idx_quota_reservations_open\" ON \"quota_reservations\" (\"expires_at\") WHERE \"state\" = 'reserved'"
        ));
    }

    #[test]
    fn sqlite_sql_creates_the_job_tables_and_their_indexes() {
        let rendered = sqlite_sql();
        let (name, sql) = &rendered[1];
        assert_eq!(name, "m20261124_000002_jobs");
        for table in STEPS[1].tables {
            assert!(
                sql.contains(&format!("CREATE TABLE IF NOT EXISTS \"{table}\"")),
                "no CREATE TABLE for {table} in:\n{sql}"
            );
        }
        for unique in [
            "CREATE UNIQUE INDEX IF NOT EXISTS \"ux_jobs_agent_idempotency\" ON \"jobs\" (\"agent_id\", \"idempotency_key\")",
            "CREATE UNIQUE INDEX IF NOT EXISTS \"ux_artifacts_agent_kind_name_version\" ON \"artifacts\" (\"agent_id\", \"kind\", \"name\", \"version\")",
        ] {
            assert!(sql.contains(unique), "no `{unique}` in:\n{sql}");
        }
        for index in [
            "CREATE INDEX IF NOT EXISTS \"idx_jobs_due\" ON \"jobs\" (\"status\", \"next_check_at\")",
            "CREATE INDEX IF NOT EXISTS \"idx_jobs_agent\" ON \"jobs\" (\"agent_id\", \"id\")",
            "CREATE INDEX IF NOT EXISTS \"idx_artifacts_agent\" ON \"artifacts\" (\"agent_id\", \"id\")",
            "CREATE INDEX IF NOT EXISTS \"idx_webhook_deliveries_due\" ON \"webhook_deliveries\" (\"status\", \"next_attempt_at\")",
        ] {
            assert!(sql.contains(index), "no `{index}` in:\n{sql}");
        }
        assert!(!sql.contains("FOREIGN KEY"));
        // No table of a later step is created again by an earlier one.
        assert!(!rendered[0].1.contains("\"jobs\""));
    }

    #[test]
    fn every_step_has_statements_and_a_unique_name() {
        let mut names: Vec<&str> = STEPS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), STEPS.len());
        for step in STEPS {
            assert!(!(step.statements)().is_empty(), "{} is empty", step.name);
        }
    }

    #[test]
    fn postgres_rendering_uses_native_types() {
        let stmts = (STEPS[0].statements)();
        let pg: Vec<String> = stmts
            .iter()
            .filter_map(|s| s.build(DbBackend::Postgres))
            .map(|s| s.to_string())
            .collect();
        let all = pg.join("\n");
        assert!(all.contains("bigint"), "{all}");
        assert!(all.contains("bool"), "{all}");
        // Job durations are 8-byte floats, not 4-byte `real`s.
        let jobs: Vec<String> = (STEPS[1].statements)()
            .iter()
            .filter_map(|s| s.build(DbBackend::Postgres))
            .map(|s| s.to_string())
            .collect();
        let jobs = jobs.join("\n");
        assert!(
            jobs.contains("\"duration_seconds\" double precision"),
            "{jobs}"
        );
    }

    #[test]
    fn postgres_only_statements_run_on_postgres_and_nowhere_else() {
        let stmts = (STEPS[3].statements)();
        let pg: Vec<String> = stmts
            .iter()
            .filter_map(|s| s.build(DbBackend::Postgres))
            .map(|s| s.to_string())
            .collect();
        assert!(
            pg.iter()
                .any(|s| s == "ALTER TABLE rate_windows SET UNLOGGED"),
            "{pg:?}"
        );
        let sqlite: Vec<String> = stmts
            .iter()
            .filter_map(|s| s.build(DbBackend::Sqlite))
            .map(|s| s.to_string())
            .collect();
        assert_eq!(sqlite.len(), 1, "only the table on SQLite: {sqlite:?}");
        let d1 = &sqlite_sql()[3].1;
        assert!(!d1.contains("UNLOGGED"), "{d1}");
    }

    #[test]
    fn storage_caps_are_new_nullable_columns_and_usage_has_its_own_table() {
        let (name, sql) = &sqlite_sql()[5];
        assert_eq!(name, "m20261208_000006_storage");
        for expected in [
            "ALTER TABLE \"tiers\" ADD COLUMN \"storage_bytes\" bigint NULL",
            "ALTER TABLE \"instances\" ADD COLUMN \"storage_bytes\" bigint NULL",
            "CREATE TABLE IF NOT EXISTS \"storage_usage\"",
            "CREATE INDEX IF NOT EXISTS \"idx_artifacts_kind_created\" ON \"artifacts\" (\"kind\", \"created_at\")",
        ] {
            assert!(sql.contains(expected), "no `{expected}` in:\n{sql}");
        }
    }

    #[test]
    fn every_table_name_is_created_once() {
        let mut tables: Vec<&str> = STEPS
            .iter()
            .flat_map(|s| s.tables.iter().copied())
            .collect();
        let all = tables.len();
        tables.sort_unstable();
        tables.dedup();
        assert_eq!(tables.len(), all);
    }
}
