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
//!
//! A SQLite file runs in WAL mode with `synchronous=NORMAL`: a commit appends to the log without
//! waiting for the disk, so it survives a crash of the process but not necessarily of the
//! machine; the log is made durable at checkpoints. By default those run beside the requests (see
//! [`StoreOptions::sqlite_checkpoint_every`]) instead of inside whichever commit crossed SQLite's
//! threshold, which is what kept two syncs of the disk on about one request in a hundred.

mod accounts;
mod agents;
mod artifacts;
mod catalog;
mod checkpoints;
mod convert;
mod cpu_idle;
mod entity;
mod error;
mod forget;
mod idle_checkpointer;
mod jobs;
mod keys;
mod provider_keys;
mod quota;
mod rate_limiter;
mod requests;
mod reserve_sql;
mod settle_batch;
mod sqlite_ledger;
mod webhooks;

use molts_core::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use checkpoints::{Checkpointer, WAL_SIZE_LIMIT_BYTES};
use idle_checkpointer::IdleCheckpointer;
use molts_core::{Error, Result, Stores};
use molts_migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, IntoSimpleExpr, TransactionTrait,
};
use settle_batch::SettleBatches;
use sqlite_ledger::SqliteLedger;

pub use rate_limiter::SqlRateLimiter;
pub use sea_orm;

/// How long a SQLite writer waits for another connection's write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite serialises writers anyway; a few connections let readers run beside one writer.
const SQLITE_POOL: u32 = 4;
const POSTGRES_POOL: u32 = 10;
/// How long a caller waits for a pooled connection (including opening one, so also how long
/// `connect` tries an unreachable server) before the store answers `Unavailable`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// SQLite's own checkpoint-on-commit threshold while background checkpoints run: a fallback
/// for when they cannot (a runtime frozen between Lambda invocations), above the restart size.
const WAL_FALLBACK_AUTOCHECKPOINT: u32 = 10_000;

/// How a store connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// On a SQLite file, how often a background task checkpoints the write-ahead log (copies
    /// committed pages into the database file and syncs both), restarting the log once it
    /// passes 32 MiB. `None` leaves it to SQLite, which checkpoints inside the commit that
    /// brings the log past 1000 pages (a few milliseconds of syncing on that request).
    ///
    /// With `synchronous=NORMAL` a checkpoint is also when commits become durable against
    /// power loss, so this bounds that window in time (by default 10 ms) where SQLite's own
    /// bounds it in pages (on a quiet server, possibly hours). Commits survive a crash of the
    /// process either way.
    ///
    /// Why so often: each checkpoint's sync writes back everything logged since the last one,
    /// and that write-back takes CPU from the requests running beside it. Small, frequent
    /// syncs disturb them less than large, rare ones — measured, 10 ms against 100 ms: a
    /// lower p99 at concurrency 1 and about a third lower at 32, for about 4 % more CPU under
    /// load (docs/BENCHMARKS.md, "Sixth look"). A checkpoint with nothing to do is one
    /// query: an idle server spends well under 0.1 % of a core on them.
    ///
    /// The passive checkpoints run on a thread of their own at `SCHED_IDLE` on Linux
    /// ("Seventh look"; `idle_checkpointer.rs`), the `RESTART` at normal priority on the pool.
    /// When molts' cores are busy that thread may not run at all; the checkpoints then run on
    /// the pool, at normal priority, until the cores have idle time again, so the log stays
    /// bounded (about 32 MiB) under any load ("Ninth look"; `checkpoints.rs`).
    pub sqlite_checkpoint_every: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sqlite_checkpoint_every: Some(Duration::from_millis(10)),
        }
    }
}

/// Every store port over one sea-orm connection pool.
#[derive(Debug, Clone)]
pub struct SeaOrmStore {
    db: DatabaseConnection,
    /// The background checkpoints of a SQLite file; they stop when the last clone is dropped.
    checkpoints: Option<Arc<Checkpoints>>,
    /// On SQLite, the queue this process's quota writers take turns in.
    writers: Option<Arc<Mutex<()>>>,
    /// On a SQLite file, the quota ledger's own connection, used in place (see
    /// `sqlite_ledger`).
    ledger: Option<Arc<SqliteLedger>>,
    /// With the ledger, the settlements waiting for the writer turn, written together.
    settle_batches: Option<Arc<SettleBatches>>,
}

/// The background checkpoint task, aborted when dropped.
#[derive(Debug)]
struct Checkpoints(tokio::task::JoinHandle<()>);

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SeaOrmStore {
    /// Connects to `url`: `sqlite://path?mode=rwc` (WAL journal, busy timeout) or
    /// `postgres://user@host/db`, with the default [`StoreOptions`]. Does not migrate; call
    /// [`SeaOrmStore::migrate`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// Connects to `url` with `settings`. Must be called within a tokio runtime.
    pub async fn connect_with(url: &str, settings: StoreOptions) -> Result<Self> {
        let mut options = ConnectOptions::new(url);
        options
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Statement logs would carry values (key hashes, emails) at info level.
            .sqlx_logging(false);
        // Each connection to an in-memory database is a different database.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let background_checkpoints = settings
            .sqlite_checkpoint_every
            .filter(|_| url.starts_with("sqlite:") && !in_memory);
        let autocheckpoint = match background_checkpoints {
            Some(_) => WAL_FALLBACK_AUTOCHECKPOINT,
            None => 1000,
        };
        if url.starts_with("sqlite:") {
            options
                .max_connections(if in_memory { 1 } else { SQLITE_POOL })
                // A SQLite connection is a thread on a local file, not a socket that can go
                // stale: skip the ping (a round trip to that thread) before each use. It is
                // still pinged when returned, and dropped if that fails.
                .test_before_acquire(false)
                .map_sqlx_sqlite_opts(move |o| {
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .busy_timeout(SQLITE_BUSY_TIMEOUT)
                        .pragma("wal_autocheckpoint", autocheckpoint.to_string())
                        .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES.to_string())
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
        let file = (url.starts_with("sqlite:") && !in_memory).then(|| {
            db.get_sqlite_connection_pool()
                .connect_options()
                .get_filename()
                .to_owned()
        });
        let ledger = match &file {
            Some(path) => Some(Arc::new(SqliteLedger::open(path, autocheckpoint)?)),
            None => None,
        };
        let writers = url.starts_with("sqlite:").then(|| Arc::new(Mutex::new(())));
        let checkpoints = background_checkpoints.map(|every| {
            let writers = writers.clone().unwrap_or_default();
            // Without its thread, checkpoints run on the pool as they always could.
            let idle = file.as_deref().and_then(|path| {
                IdleCheckpointer::start(path)
                    .inspect_err(|e| tracing::warn!(error = %e, "checkpointing on the pool"))
                    .ok()
            });
            let checkpointer = Checkpointer::new(db.clone(), writers, every, idle);
            Arc::new(Checkpoints(tokio::spawn(checkpointer.run(every))))
        });
        let settle_batches = ledger.as_ref().map(|_| Arc::new(SettleBatches::default()));
        Ok(Self {
            db,
            checkpoints,
            writers,
            ledger,
            settle_batches,
        })
    }

    /// Wraps an existing connection (its pool and checkpoint settings are the caller's).
    pub fn from_connection(db: DatabaseConnection) -> Self {
        let writers =
            (db.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Self {
            db,
            checkpoints: None,
            writers,
            ledger: None,
            settle_batches: None,
        }
    }

    /// Applies every pending migration of `molts-migrations`; applying twice is a no-op.
    pub async fn migrate(&self) -> Result<()> {
        Migrator::up(&self.db, None).await.map_err(|e| {
            let cause = error::from_db(e);
            molts_core::Error::coded(
                ErrorCode::MigrationFailed,
                format!("database migrations failed: {}", cause.message()),
            )
            .with_source(cause)
        })
    }

    /// The underlying connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Closes the pool; later calls fail with `Unavailable`.
    pub async fn close(&self) -> Result<()> {
        if let Some(checkpoints) = &self.checkpoints {
            checkpoints.0.abort();
        }
        if let Some(ledger) = &self.ledger {
            ledger.close();
        }
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

    /// On SQLite, a turn to write: hold it across a write transaction, taken before the
    /// transaction begins. SQLite lets one writer in at a time and makes the others poll with
    /// sleeps of a millisecond and more (its busy handler), which at these transaction lengths
    /// (a tenth of a millisecond) is most of the wait; this process's writers queue here
    /// instead and go in as soon as the previous one commits. Other processes on the same file
    /// still meet the busy handler, so exactness does not depend on this.
    async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.writers {
            Some(writers) => Some(writers.clone().lock_owned().await),
            None => None,
        }
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

/// SQL written with PostgreSQL's numbered `$N` placeholders, in `backend`'s form: SQLite reads
/// the same numbered parameters as `?N`. For the few statements kept as fixed text (the
/// reservation's, the rate limiter's), so each is written once for both databases.
pub(crate) fn in_dialect(backend: DbBackend, text: &str) -> String {
    match backend {
        DbBackend::Postgres => text.to_owned(),
        _ => text.replace('$', "?"),
    }
}
