//! `SqlRateLimiter`: the `RateLimiter` port over the store's database, so every process on one
//! database shares one budget per key — Lambda's concurrent execution environments, standalone
//! replicas on one PostgreSQL — where the in-memory limiter would give each its own.
//!
//! A hit is one statement, an upsert that adds one to the window's count only while it is below
//! the limit (`ON CONFLICT (key, window_start) DO UPDATE … WHERE hits < limit RETURNING hits`).
//! A row back means the hit was counted and allowed; no row means the window was full and
//! nothing was written (a refusal is not counted). Exact under concurrency for the same reasons
//! as the quota ledger's upsert (`quota.rs`): PostgreSQL locks the conflicting row and checks the
//! `WHERE` against its latest committed version; SQLite runs one writer at a time (this
//! process's writers queue for the turn, as the ledger's do).
//!
//! Windows are fixed and aligned to the epoch (the port's contract), keyed by their start, so a
//! key is expected to keep one window width (the gateway's per-agent minute). When a hit opens a
//! key's new window, a second statement deletes that key's finished windows, so the table holds
//! about one row per key; the scheduled work's `forget_finished` deletes every finished window
//! (an index on `expires_at` keeps that a range scan), so keys never seen again go too.

use std::time::Duration;

use async_trait::async_trait;
use molts_core::ports::{FixedWindow, RateDecision, RateLimiter};
use molts_core::{Result, Timestamp};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::SeaOrmStore;
use crate::error::from_db;

/// Counts requests per key in the `rate_windows` table of a [`SeaOrmStore`]'s database.
#[derive(Clone)]
pub struct SqlRateLimiter {
    store: SeaOrmStore,
}

impl SqlRateLimiter {
    /// A limiter over `store`'s database (migrated: it needs `rate_windows`).
    pub fn new(store: SeaOrmStore) -> Self {
        Self { store }
    }
}

impl std::fmt::Debug for SqlRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlRateLimiter").finish_non_exhaustive()
    }
}

const HIT: &str = "INSERT INTO rate_windows (\"key\", window_start, hits, expires_at) \
     VALUES ($1, $2, 1, $3) \
     ON CONFLICT (\"key\", window_start) DO UPDATE SET hits = rate_windows.hits + 1 \
     WHERE rate_windows.hits < $4 \
     RETURNING hits";

const SWEEP_KEY: &str = "DELETE FROM rate_windows WHERE \"key\" = $1 AND expires_at <= $2";

const SWEEP_ALL: &str = "DELETE FROM rate_windows WHERE expires_at <= $1";

/// `text` (written with `$N` placeholders) with `values`, in `backend`'s form.
fn statement(
    backend: DbBackend,
    text: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> Statement {
    Statement::from_sql_and_values(backend, crate::in_dialect(backend, text), values)
}

#[async_trait]
impl RateLimiter for SqlRateLimiter {
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: Timestamp,
    ) -> Result<RateDecision> {
        let FixedWindow {
            start_ms: start,
            end_ms: end,
            left: reset_after,
            ..
        } = FixedWindow::at(now, window);
        let refused = RateDecision {
            allowed: false,
            limit,
            remaining: 0,
            reset_after,
        };
        if limit == 0 {
            return Ok(refused);
        }
        let db = self.store.connection();
        let backend = db.get_database_backend();
        let hit = statement(
            backend,
            HIT,
            [
                key.into(),
                start.into(),
                end.into(),
                i64::from(limit).into(),
            ],
        );
        let row = {
            let _turn = self.store.write_turn().await;
            db.query_one(hit).await.map_err(from_db)?
        };
        let Some(row) = row else {
            return Ok(refused);
        };
        let hits: i64 = row.try_get("", "hits").map_err(from_db)?;
        if hits == 1 {
            // A new window for this key: its finished ones can go. Best effort — a failure
            // leaves a row the next new window (or the scheduled work) deletes, and must not
            // refuse a counted hit.
            let sweep = statement(backend, SWEEP_KEY, [key.into(), start.into()]);
            let _turn = self.store.write_turn().await;
            if let Err(e) = db.execute(sweep).await {
                tracing::warn!(error = %e, "could not delete a key's finished rate windows");
            }
        }
        Ok(RateDecision {
            allowed: true,
            limit,
            remaining: u32::try_from(i64::from(limit) - hits).unwrap_or(0),
            reset_after,
        })
    }

    async fn forget_finished(&self, _window: Duration, now: Timestamp) -> Result<u64> {
        // Each row knows its own end, so the width is not needed here.
        let db = self.store.connection();
        let sweep = statement(
            db.get_database_backend(),
            SWEEP_ALL,
            [now.timestamp_millis().into()],
        );
        let _turn = self.store.write_turn().await;
        let done = db.execute(sweep).await.map_err(from_db)?;
        Ok(done.rows_affected())
    }
}
