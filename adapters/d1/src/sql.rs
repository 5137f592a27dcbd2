//! A thin, `Send` layer over the D1 binding: bind values, read typed rows, count changes, run
//! batches. Everything D1-specific (JS values, its errors, `Send` wrapping) stays in this file.
//!
//! Why `Send` here: core's store traits are `Send` (native runtimes are multi-threaded), while
//! D1's futures hold JS values. A Worker runs on one thread, so each call's future is wrapped in
//! `worker::send::SendFuture` and the binding in `SendWrapper`; the store code above this file is
//! then ordinary `Send` async Rust.

use molts_core::{Error, Result};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::D1Database;
use worker::send::{SendFuture, SendWrapper};

/// Largest integer a JS number (D1's only numeric type over the binding) carries exactly.
pub(crate) const MAX_EXACT: i64 = (1 << 53) - 1;

/// A value bound to a `?N` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl V {
    fn to_js(&self) -> JsValue {
        match self {
            Self::Null => JsValue::null(),
            // Callers keep integers within MAX_EXACT (see `checked`), so this is exact.
            #[allow(clippy::cast_precision_loss)]
            Self::Int(i) => JsValue::from_f64(*i as f64),
            Self::Real(f) => JsValue::from_f64(*f),
            Self::Text(s) => JsValue::from_str(s),
        }
    }
}

impl From<&str> for V {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}
impl From<&String> for V {
    fn from(s: &String) -> Self {
        Self::Text(s.clone())
    }
}
impl From<String> for V {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}
impl From<i64> for V {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}
impl From<f64> for V {
    fn from(f: f64) -> Self {
        Self::Real(f)
    }
}
impl From<bool> for V {
    // Booleans are INTEGER 0/1 in SQLite, as sea-orm writes them.
    fn from(b: bool) -> Self {
        Self::Int(i64::from(b))
    }
}
impl<T: Into<V>> From<Option<T>> for V {
    fn from(o: Option<T>) -> Self {
        o.map_or(Self::Null, Into::into)
    }
}

/// `params![a, b]`: a `Vec<V>` from anything convertible.
macro_rules! params {
    ($($v:expr),* $(,)?) => { vec![$($crate::sql::V::from($v)),*] };
}
pub(crate) use params;

/// A unit count for a column: counts a JS number cannot carry exactly are refused, not rounded.
pub(crate) fn checked(param: &'static str, n: u64) -> Result<i64> {
    i64::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_EXACT)
        .ok_or_else(|| Error::invalid(param, format!("{param} is too large")))
}

/// One statement of a batch.
pub(crate) struct Stmt {
    pub(crate) sql: String,
    pub(crate) params: Vec<V>,
}

/// Maps a D1 failure: a unique-constraint violation is `Conflict` with the message `conflict`
/// makes from D1's text (which names the clashing columns); anything else `Internal`, the cause
/// kept for logs only.
fn d1_error(error: &worker::Error, conflict: Option<&dyn Fn(&str) -> String>) -> Error {
    text_error(error.to_string(), conflict)
}

fn text_error(text: String, conflict: Option<&dyn Fn(&str) -> String>) -> Error {
    if let (true, Some(message)) = (text.contains("UNIQUE constraint failed"), conflict) {
        return Error::conflict(message(&text));
    }
    // workerd's words for a D1 it could not reach; a retry may succeed.
    if text.contains("Network connection lost") || text.contains("D1_ERROR: timeout") {
        return Error::unavailable("the database is unavailable")
            .with_source(std::io::Error::other(text));
    }
    Error::internal("a database statement failed").with_source(std::io::Error::other(text))
}

/// The D1 binding, shareable across threads (there is only one on Workers).
#[derive(Clone)]
pub(crate) struct Db(std::sync::Arc<SendWrapper<D1Database>>);

impl Db {
    pub(crate) fn new(db: D1Database) -> Self {
        Self(std::sync::Arc::new(SendWrapper::new(db)))
    }

    fn prepare(&self, sql: &str, params: &[V]) -> worker::Result<worker::D1PreparedStatement> {
        let values: Vec<JsValue> = params.iter().map(V::to_js).collect();
        self.0.prepare(sql).bind(&values)
    }

    /// Rows of a query, deserialized by column name.
    pub(crate) async fn rows<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Vec<V>,
    ) -> Result<Vec<T>> {
        SendFuture::new(async move {
            let stmt = self.prepare(sql, &params).map_err(|e| d1_error(&e, None))?;
            let result = stmt.all().await.map_err(|e| d1_error(&e, None))?;
            result.results::<T>().map_err(|e| {
                Error::internal("a stored row could not be read")
                    .with_source(std::io::Error::other(e.to_string()))
            })
        })
        .await
    }

    /// The first row of a query, if any.
    pub(crate) async fn row<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Vec<V>,
    ) -> Result<Option<T>> {
        Ok(self.rows(sql, params).await?.into_iter().next())
    }

    /// Runs a write; answers how many rows it changed. A unique violation is `Conflict` with the
    /// message `conflict` makes.
    pub(crate) async fn run(
        &self,
        sql: &str,
        params: Vec<V>,
        conflict: impl Fn(&str) -> String,
    ) -> Result<usize> {
        SendFuture::new(async move {
            let stmt = self
                .prepare(sql, &params)
                .map_err(|e| d1_error(&e, Some(&conflict)))?;
            let result = stmt
                .run()
                .await
                .map_err(|e| d1_error(&e, Some(&conflict)))?;
            Ok(changes(&result))
        })
        .await
    }

    /// Runs statements as one D1 batch: one implicit transaction, all or nothing, and no other
    /// query runs between them (D1 executes a database's queries one at a time). Answers each
    /// statement's changed-row count.
    pub(crate) async fn batch(
        &self,
        stmts: Vec<Stmt>,
        conflict: impl Fn(&str) -> String,
    ) -> Result<Vec<usize>> {
        self.try_batch(stmts)
            .await?
            .map_err(|text| text_error(text, Some(&conflict)))
    }

    /// [`Db::batch`], but a statement that fails (and so rolls the batch back) comes back as
    /// `Ok(Err(D1's message))`, for callers that make a statement fail on purpose.
    pub(crate) async fn try_batch(
        &self,
        stmts: Vec<Stmt>,
    ) -> Result<std::result::Result<Vec<usize>, String>> {
        SendFuture::new(async move {
            let prepared = stmts
                .iter()
                .map(|s| self.prepare(&s.sql, &s.params))
                .collect::<worker::Result<Vec<_>>>()
                .map_err(|e| d1_error(&e, None))?;
            Ok(match self.0.batch(prepared).await {
                Ok(results) => Ok(results.iter().map(changes).collect()),
                Err(e) => Err(e.to_string()),
            })
        })
        .await
    }
}

fn changes(result: &worker::D1Result) -> usize {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0)
}
