//! Forgetting closed reservations (`QuotaStore::forget_closed_reservations`).
//!
//! Every metered call leaves a reservation row. Once closed, the row is only wanted for a while
//! (a support question, a log line naming it): what it charged is in the per-period counters,
//! which are the ledger's totals. The scheduled work deletes old ones in bounded batches, and
//! a batch must be cheap, since on SQLite it holds the write lock while reservations wait:
//! - **No index on time.** Reservation ids are UUIDv7, so within each id range of
//!   `reservation_ids_before` the primary key's order is creation order, and the oldest rows
//!   come first. The delete walks a range from its start and stops after `limit` matches: it
//!   reads the rows it deletes and the few it skips (open holds, holds closed after the
//!   cutoff). An index on `closed_at` would instead cost every call a write (migration 3 took
//!   such an index away for that reason) to serve a read made once per row.
//! - **Bounded.** One statement per range, at most `limit` rows, under the writer turn like any
//!   ledger write: reservations queue behind one batch at most, then go between batches.
//! - **Never an open hold.** `state <> 'reserved'` is in the statement itself, as is the cutoff,
//!   so the id range only bounds the walk; what is deleted is decided row by row.

use molts_core::domain::reservation_ids_before;
use molts_core::{Result, Timestamp};
use sea_orm::{ConnectionTrait, Statement, Value};

use crate::SeaOrmStore;
use crate::convert::ms;
use crate::error::from_db;

/// Deletes up to `$4` closed reservations closed before `$3` with ids in `[$1, $2)`, oldest id
/// first (the same text on both databases, see `in_dialect`).
const FORGET: &str = "\
DELETE FROM quota_reservations WHERE id IN (\
SELECT id FROM quota_reservations \
WHERE id >= $1 AND id < $2 AND state <> 'reserved' AND closed_at < $3 \
ORDER BY id LIMIT $4)";

impl SeaOrmStore {
    /// See the module's header.
    pub(crate) async fn forget_closed(&self, before: Timestamp, limit: u32) -> Result<u32> {
        let backend = self.backend();
        let mut forgotten: u64 = 0;
        for (low, high) in reservation_ids_before(before) {
            let left = u64::from(limit).saturating_sub(forgotten);
            if left == 0 {
                break;
            }
            let values: [Value; 4] = [
                low.into(),
                high.into(),
                ms(before).into(),
                i64::try_from(left).unwrap_or(i64::MAX).into(),
            ];
            let statement =
                Statement::from_sql_and_values(backend, crate::in_dialect(backend, FORGET), values);
            let _turn = self.write_turn().await;
            forgotten += self
                .db
                .execute(statement)
                .await
                .map_err(from_db)?
                .rows_affected();
        }
        Ok(u32::try_from(forgotten).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use molts_core::domain::ReservationState;

    use super::*;

    #[test]
    fn the_delete_never_names_an_open_hold_as_closed() {
        let open = ReservationState::Reserved.as_str();
        assert!(FORGET.contains(&format!("state <> '{open}'")), "{FORGET}");
    }

    /// The walk is a range of the primary key in its order, not a scan of the table: what
    /// keeps a batch cheap however many rows the table holds.
    #[tokio::test]
    async fn sqlite_walks_the_primary_key()
    -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("molts.db");
        let store = SeaOrmStore::connect(&format!("sqlite://{}?mode=rwc", path.display())).await?;
        store.migrate().await?;
        let select = FORGET
            .split_once("IN (")
            .map(|(_, s)| s.trim_end_matches(')'))
            .unwrap_or_default();
        let plan = store
            .connection()
            .query_all(Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                format!(
                    "EXPLAIN QUERY PLAN {}",
                    crate::in_dialect(sea_orm::DbBackend::Sqlite, select)
                        .replace("?1", "'rsv_'")
                        .replace("?2", "'rsv_1'")
                        .replace("?3", "0")
                        .replace("?4", "10")
                ),
            ))
            .await?
            .into_iter()
            .map(|row| row.try_get_by_index::<String>(3))
            .collect::<std::result::Result<Vec<_>, _>>()?
            .join("; ");
        assert!(
            plan.contains("sqlite_autoindex_quota_reservations_1 (id>? AND id<?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "sorted by the index: {plan}");
        store.close().await?;
        Ok(())
    }
}
