//! On a SQLite file, the quota ledger's write transactions run in place, on the caller's
//! thread, through a connection of their own.
//!
//! Why: sqlx runs each SQLite connection on a thread of its own, and every statement, `BEGIN`
//! and `COMMIT` is a message to that thread and a wake-up back — 30–100 µs each on a busy
//! two-core machine, three per reservation, on the path of every metered request — while the
//! reservation's own work inside SQLite is a few microseconds. Here the same statements (built
//! by the same sea-query code) run as `BEGIN IMMEDIATE`, statements, `COMMIT` with no hand-off
//! at all, through `rusqlite`, prepared once and cached.
//!
//! What keeps it correct:
//! - **One SQLite library.** `libsqlite3-sys` can be linked once per build (`links = "sqlite3"`),
//!   so rusqlite and sqlx share the library and its file locks: the ledger's exactness is still
//!   SQLite's write lock, whichever connection holds it.
//! - **Never waits on a lock.** The connection's busy timeout is zero: when another writer holds
//!   the database (another process on the file, or one of this process's non-quota writes on a
//!   sqlx connection), `BEGIN IMMEDIATE` fails at once and the caller takes the sqlx path, which
//!   waits for the lock on sqlx's thread. The async thread never blocks on a lock; it only runs
//!   SQLite's own work, microseconds, under this process's writer turn.
//! - **Whole transactions or nothing.** Work runs inside a `rusqlite::Transaction`, which rolls
//!   back when dropped without a commit — on an error or a panic alike.
//! - **Files only.** Each connection to an in-memory database is a different database.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use molts_core::{Error, Result};
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use sea_orm::{Statement, Value};

/// How a transaction's work ends.
pub(crate) enum Finish<T> {
    Commit(T),
    Rollback(T),
}

/// Why a transaction did not run here; the caller then takes the sqlx path.
pub(crate) enum NotHere {
    /// Another writer holds the database, or the ledger was closed.
    Busy,
    /// The work failed; the transaction was rolled back.
    Failed(Error),
}

impl From<Error> for NotHere {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

/// The quota ledger's own connection to a SQLite file.
#[derive(Debug)]
pub(crate) struct SqliteLedger {
    /// Held only while SQLite works, never across an `.await`. `None` once closed.
    conn: Mutex<Option<Connection>>,
}

impl SqliteLedger {
    /// Opens `path` (already created and in WAL mode: sqlx opened it first) with the pool's
    /// settings, except the busy timeout.
    pub(crate) fn open(path: &Path, wal_autocheckpoint: u32) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .and_then(|c| {
                c.busy_timeout(std::time::Duration::ZERO)?;
                c.execute_batch(&format!(
                    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = {wal_autocheckpoint};"
                ))?;
                Ok(c)
            })
            .map_err(|e| Error::unavailable("cannot open the database").with_source(e))?;
        Ok(Self {
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Closes the connection; later transactions report [`NotHere::Busy`].
    pub(crate) fn close(&self) {
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Runs `work` in one `BEGIN IMMEDIATE … COMMIT` (or rollback, as it says). The caller
    /// holds the process's writer turn.
    pub(crate) fn transaction<T>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> Result<Finish<T>>,
    ) -> std::result::Result<T, NotHere> {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(conn) = guard.as_mut() else {
            return Err(NotHere::Busy);
        };
        let txn = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(txn) => txn,
            Err(e) if is_busy(&e) => return Err(NotHere::Busy),
            Err(e) => return Err(NotHere::Failed(db_error(e))),
        };
        match work(&txn)? {
            Finish::Commit(value) => {
                txn.commit().map_err(db_error)?;
                Ok(value)
            }
            Finish::Rollback(value) => {
                txn.rollback().map_err(db_error)?;
                Ok(value)
            }
        }
    }
}

/// Runs a statement sea-query built for SQLite; the rows it changed.
pub(crate) fn execute(txn: &Transaction<'_>, statement: &Statement) -> rusqlite::Result<usize> {
    let values = statement.values.as_ref().map_or(&[][..], |v| &v.0[..]);
    let params = params(values)?;
    txn.prepare_cached(&statement.sql)?
        .execute(rusqlite::params_from_iter(params))
}

/// sea-query's values as SQLite values. The ledger binds only text and integers.
pub(crate) fn params(values: &[Value]) -> rusqlite::Result<Vec<rusqlite::types::Value>> {
    use rusqlite::types::Value as Sql;
    values
        .iter()
        .map(|v| match v {
            Value::String(Some(s)) => Ok(Sql::Text(s.as_ref().clone())),
            Value::BigInt(Some(n)) => Ok(Sql::Integer(*n)),
            Value::Int(Some(n)) => Ok(Sql::Integer(i64::from(*n))),
            Value::String(None) | Value::BigInt(None) | Value::Int(None) => Ok(Sql::Null),
            other => Err(rusqlite::Error::ToSqlConversionFailure(
                format!("the SQLite ledger does not bind {other:?}").into(),
            )),
        })
        .collect()
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Whether `e` is a unique (or primary key) violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// A driver error as a core error: generic to the client, the driver's words as the source.
pub(crate) fn db_error(e: rusqlite::Error) -> Error {
    if is_busy(&e) {
        return Error::unavailable("database unavailable").with_source(e);
    }
    Error::internal("database error").with_source(e)
}
