//! How database failures become [`molts_core::Error`]s.
//!
//! The client-facing message is always generic ("database error", "database unavailable"); the
//! driver's error, which may quote SQL, values or connection strings, rides along only as the
//! source, for logs.

use molts_core::Error;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};

/// What can go wrong inside this adapter, before it is turned into a core error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The database or its driver failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A stored value could not be turned back into its domain type.
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Db(db) => from_db(db),
            corrupt @ StoreError::Corrupt { .. } => {
                Error::internal("stored data is unreadable").with_source(corrupt)
            }
        }
    }
}

/// A database error with no better meaning at the call site.
pub(crate) fn from_db(err: DbErr) -> Error {
    if err.sql_err().is_some_and(is_unique_violation) {
        return Error::conflict("already exists").with_source(err);
    }
    if is_unavailable(&err) {
        return Error::unavailable("database unavailable").with_source(err);
    }
    Error::internal("database error").with_source(err)
}

/// Like [`from_db`], but a unique violation reads as `message` (what clashed, in client terms).
pub(crate) fn on_write(err: DbErr, message: impl FnOnce() -> String) -> Error {
    if err.sql_err().is_some_and(is_unique_violation) {
        return Error::conflict(message()).with_source(err);
    }
    from_db(err)
}

/// Whether `err` is a unique violation whose message mentions `needle`: both SQLite
/// (`UNIQUE constraint failed: table.col, …`) and PostgreSQL (`… unique constraint "index"`) name
/// what clashed, which tells two unique indexes of one table apart.
pub(crate) fn violates(err: &DbErr, needle: &str) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(message)) if message.contains(needle)
    )
}

fn is_unique_violation(sql_err: sea_orm::SqlErr) -> bool {
    matches!(sql_err, sea_orm::SqlErr::UniqueConstraintViolation(_))
}

/// Whether retrying later may succeed: the connection, the pool or a lock was the problem, not
/// the statement.
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with any extended code on top.
                code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
            } else {
                // PostgreSQL: connection exceptions (08), serialization failure and deadlock
                // (40001, 40P01), insufficient resources (53), lock not available (55P03) and
                // shutdowns (57P01-57P03).
                code.starts_with("08")
                    || code.starts_with("53")
                    || matches!(
                        code.as_ref(),
                        "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03"
                    )
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use molts_core::ErrorKind;
    use sea_orm::ConnAcquireErr;

    #[test]
    fn pool_timeouts_are_unavailable_and_messages_stay_generic() {
        let e = from_db(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.message(), "database unavailable");

        let e = from_db(DbErr::Custom("SELECT secret FROM t".to_owned()));
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.message(), "database error");
        assert!(std::error::Error::source(&e).is_some());

        let e: Error = StoreError::corrupt("agent status", "'zombie'").into();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(!e.message().contains("zombie"));
    }
}
