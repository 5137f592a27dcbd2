//! On a SQLite file, the quota ledger's write transactions run in place, on the caller's
//! thread, through a connection of their own.
//!
//! Why: sqlx runs each SQLite connection on a thread of its own, and every statement, `BEGIN`
//! and `COMMIT` is a message to that thread and a wake-up back — 30–100 µs each on a busy
//! two-core machine, three per reservation, on the path of every metered request — while the
//! reservation's own work inside SQLite is a few microseconds. Here the same statements (the
//! same SQL text) run as `BEGIN IMMEDIATE`, statements, `COMMIT` with no hand-off at all,
//! through `rusqlite`, each prepared once and cached — `BEGIN` and `COMMIT` too, which
//! `rusqlite::Transaction` would parse afresh every time.
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
//! - **Whole transactions or nothing.** Work runs inside an [`Open`] transaction, which rolls
//!   back when dropped still open — on an error, a failed commit or a panic alike.
//! - **Files only.** Each connection to an in-memory database is a different database.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use molts_core::{Error, Result};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sea_orm::{Statement, Value};

use crate::checkpoints::WAL_SIZE_LIMIT_BYTES;

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
                     PRAGMA wal_autocheckpoint = {wal_autocheckpoint}; \
                     PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES};"
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
        work: impl FnOnce(&Connection) -> Result<Finish<T>>,
    ) -> std::result::Result<T, NotHere> {
        let guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(conn) = guard.as_ref() else {
            return Err(NotHere::Busy);
        };
        let open = match run(conn, "BEGIN IMMEDIATE") {
            Ok(()) => Open(conn),
            Err(e) if is_busy(&e) => return Err(NotHere::Busy),
            Err(e) => return Err(NotHere::Failed(db_error(e))),
        };
        let (end, value) = match work(open.0)? {
            Finish::Commit(value) => ("COMMIT", value),
            Finish::Rollback(value) => ("ROLLBACK", value),
        };
        run(open.0, end).map_err(db_error)?;
        Ok(value)
    }
}

/// Runs a statement without parameters or rows through the connection's statement cache.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// A transaction that is rolled back if it is still open when dropped.
struct Open<'c>(&'c Connection);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            // Nothing to tell anyone: the caller already has the error that brought us here.
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

/// Runs a statement written for SQLite; the rows it changed.
pub(crate) fn execute(txn: &Connection, statement: &Statement) -> rusqlite::Result<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

    fn ledger(
        dir: &tempfile::TempDir,
    ) -> std::result::Result<SqliteLedger, Box<dyn std::error::Error + Send + Sync>> {
        let path = dir.path().join("ledger.db");
        let setup = Connection::open(&path)?;
        setup.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER NOT NULL);")?;
        Ok(SqliteLedger::open(&path, 1000)?)
    }

    fn rows(ledger: &SqliteLedger) -> std::result::Result<i64, NotHere> {
        ledger.transaction(|c| {
            let n = c
                .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                .map_err(db_error)?;
            Ok(Finish::Rollback(n))
        })
    }

    fn insert(c: &Connection) -> Result<()> {
        c.execute("INSERT INTO t (n) VALUES (1)", [])
            .map_err(db_error)?;
        Ok(())
    }

    /// Committed work stays; work that asks for a rollback, fails, or panics leaves nothing
    /// behind and the connection out of any transaction, ready for the next one.
    #[test]
    fn a_transaction_is_whole_or_nothing_however_it_ends() -> TestResult {
        let dir = tempfile::tempdir()?;
        let ledger = ledger(&dir)?;
        let count = |l: &SqliteLedger| rows(l).map_err(|_| "count failed");

        ledger
            .transaction(|c| insert(c).map(|()| Finish::Commit(())))
            .map_err(|_| "commit failed")?;
        assert_eq!(count(&ledger)?, 1);

        ledger
            .transaction(|c| insert(c).map(|()| Finish::Rollback(())))
            .map_err(|_| "rollback failed")?;
        assert_eq!(count(&ledger)?, 1, "rolled back");

        let failed = ledger.transaction(|c| {
            insert(c)?;
            Err::<Finish<()>, _>(Error::internal("the work failed after writing"))
        });
        assert!(matches!(failed, Err(NotHere::Failed(_))));
        assert_eq!(count(&ledger)?, 1, "a failed transaction wrote nothing");

        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ledger.transaction(|c| -> Result<Finish<()>> {
                insert(c)?;
                #[allow(clippy::panic)]
                {
                    panic!("the work panicked after writing")
                }
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(count(&ledger)?, 1, "a panicked transaction wrote nothing");

        ledger
            .transaction(|c| insert(c).map(|()| Finish::Commit(())))
            .map_err(|_| "the connection is usable afterwards")?;
        assert_eq!(count(&ledger)?, 2);
        Ok(())
    }
}
