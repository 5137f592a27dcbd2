//! molts-sea-orm: every molts store port over sea-orm, on a SQLite file or a PostgreSQL server.
//!
//! ```ignore
//! let store = SeaOrmStore::connect("sqlite://molts.db?mode=rwc").await?;
//! store.migrate().await?;
//! let stores = store.into_stores();
//! ```
//!
//! The schema comes from `molts-migrations`; the entities here mirror it by hand. Every
//! multi-row change runs in one transaction that starts with a write, so SQLite takes its write
//! lock (waiting on the busy timeout) before reading anything, and PostgreSQL's row locks make
//! the quota ledger exact across processes.

mod accounts;
mod agents;
mod artifacts;
mod catalog;
mod convert;
mod entity;
mod error;
mod jobs;
mod keys;
mod provider_keys;
mod quota;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use molts_core::{Error, Result, Stores};
use molts_migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, IntoSimpleExpr, TransactionTrait,
};

pub use sea_orm;

/// How long a SQLite writer waits for another connection's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite serialises writers anyway; a few connections let readers run beside one writer.
const SQLITE_POOL: u32 = 4;
const POSTGRES_POOL: u32 = 10;
/// How long a caller waits for a pooled connection (including opening one, so also how long
/// `connect` tries an unreachable server) before the store answers `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Every store port over one sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
}

impl SeaOrmStore {
    /// Connects to `url`: `sqlite://path?mode=rwc` (WAL journal, busy timeout) or
    /// `postgres://user@host/db`. Does not migrate; call [`SeaOrmStore::migrate`].
    pub async fn connect(url: &str) -> Result<Self> {
        let mut options = ConnectOptions::new(url);
        options
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Statement logs would carry values (key hashes, emails) at info level.
            .sqlx_logging(false);
        if url.starts_with("sqlite:") {
            // Each connection to an in-memory database is a different database.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            options
                .max_connections(if in_memory { 1 } else { SQLITE_POOL })
                .map_sqlx_sqlite_opts(|o| {
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                });
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            options.max_connections(POSTGRES_POOL);
        } else {
            return Err(Error::invalid(
                "database_url",
                "unsupported database URL; use sqlite://… or postgres://…",
            ));
        }
        let db = Database::connect(options)
            .await
            .map_err(|e| Error::unavailable("cannot connect to the database").with_source(e))?;
        Ok(Self { db })
    }

    /// Wraps an existing connection (its pool settings are the caller's).
    pub fn from_connection(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Applies every pending migration of `molts-migrations`; applying twice is a no-op.
    pub async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None)
            .await
            .map_err(|e| error::from_db(e).with_code("migration_failed"))
    }

    /// The underlying connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pool; later calls fail with `Unavailable`.
    pub async fn close(&self) -> Result<()> {
        self.db.close_by_ref().await.map_err(error::from_db)
    }

    /// Every store port served by this store.
    pub fn into_stores(self) -> Stores {
        Stores::from_one(Arc::new(self))
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    async fn begin(&self) -> Result<DatabaseTransaction> {
        self.db.begin().await.map_err(error::from_db)
    }
}

/// `col` as lists sort it: byte order everywhere, as the memory store and SQLite do. PostgreSQL
/// would otherwise use the database's collation, which may ignore punctuation in slugs.
fn sort_key<C: ColumnTrait>(backend: DbBackend, col: C) -> SimpleExpr {
    let col = col.into_simple_expr();
    match backend {
        DbBackend::Postgres => Expr::cust_with_expr(r#"$1 COLLATE "C""#, col),
        _ => col,
    }
}
