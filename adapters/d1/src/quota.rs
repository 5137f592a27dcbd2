//! `QuotaStore` over D1: the ledger's atomic steps as D1 batches.
//!
//! D1 has no interactive transactions, but a batch is one: its statements run in order, nothing
//! else runs between them (D1 executes one database's queries one at a time), and a failing
//! statement rolls the whole batch back. So:
//!
//! - `reserve` is one batch: create missing counter rows at zero; insert the reservation; add
//!   the amount to each of its counters. The reservation's `agent_id` is written as
//!   `CASE WHEN <some capped counter would pass its cap> THEN NULL ELSE ?agent END`: when a
//!   period is full, that NOT NULL violation aborts the batch and nothing is held. The guard is
//!   evaluated once, on the counters as they are at that point of the serial batch, so N
//!   concurrent reservations against R remaining units succeed exactly min(N, R) times. Which
//!   period was full is then read back for the answer (the contract asks for the first one).
//! - `settle` and `refund` are one batch: move the counters by `charged - reserved` only if the
//!   reservation is still `reserved` (a sub-select on it), then flip it with a conditional
//!   `UPDATE … AND state = 'reserved'`. Whichever batch flips first wins; a second finds
//!   nothing to do and is told `Conflict`.
//! - `forget_closed_reservations` is one `DELETE` per id range of `reservation_ids_before`:
//!   the rows it takes are the first closed ones of the range in primary-key order (ids are
//!   UUIDv7, so the oldest), found by walking the key rather than by an index on time, which
//!   every call would pay to write. The state and the cutoff are in the statement, so an open
//!   hold is never taken.

use async_trait::async_trait;
use molts_core::domain::{
    Period, Reservation, ReservationState, ReserveOutcome, ReserveRequest, UsageCounter,
    reservation_ids_before,
};
use molts_core::ports::QuotaStore;
use molts_core::{Error, Result, Timestamp};

use crate::D1Store;
use crate::rows::{CounterRow, ReservationRow, all, ms};
use crate::sql::{MAX_EXACT, Stmt, V, checked, params};

const RESERVATION_COLS: &str = "id, agent_id, unit, reserved, charged, state, day_key, \
                                month_key, created_at, closed_at, expires_at";

/// How often a refused reservation whose full period cannot be found (another request freed
/// room in between) is tried again before it is reported against the first capped period.
const RETRIES: usize = 3;

/// The marker D1 reports when the guard refuses a reservation.
const FULL: &str = "NOT NULL constraint failed: quota_reservations.agent_id";

impl D1Store {
    /// One reservation attempt: `Ok(true)` held, `Ok(false)` some period is full.
    async fn try_reserve(&self, r: &ReserveRequest, amount: i64) -> Result<bool> {
        let unit = r.unit.as_str();
        let mut stmts = Vec::new();
        for p in &r.periods {
            stmts.push(Stmt {
                sql: "INSERT INTO quota_counters (agent_id, unit, period, period_key, used) \
                      VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT DO NOTHING"
                    .to_owned(),
                params: params![&r.agent_id, unit, p.period.as_str(), &p.key],
            });
        }
        // ?1 agent, ?2 unit, ?3 amount; then each capped period's (period, key, max).
        let mut guard_params: Vec<V> = params![&r.agent_id, unit, amount];
        let mut full_checks = Vec::new();
        for p in &r.periods {
            // A cap a JS number cannot carry exactly is beyond reach: treat it as no cap.
            let Some(max) = p
                .max
                .and_then(|m| i64::try_from(m).ok())
                .filter(|m| *m <= MAX_EXACT)
            else {
                continue;
            };
            let n = guard_params.len();
            full_checks.push(format!(
                "(period = ?{} AND period_key = ?{} AND used + ?3 > ?{})",
                n + 1,
                n + 2,
                n + 3
            ));
            guard_params.extend(params![p.period.as_str(), &p.key, max]);
        }
        let guard = if full_checks.is_empty() {
            "?1".to_owned()
        } else {
            format!(
                "CASE WHEN EXISTS (SELECT 1 FROM quota_counters WHERE agent_id = ?1 AND unit = ?2 \
                 AND ({})) THEN NULL ELSE ?1 END",
                full_checks.join(" OR ")
            )
        };
        let key_of = |period: Period| {
            r.periods
                .iter()
                .find(|p| p.period == period)
                .map(|p| p.key.clone())
                .unwrap_or_default()
        };
        let n = guard_params.len();
        let mut insert_params = guard_params;
        insert_params.extend(params![
            &r.reservation_id,
            ReservationState::Reserved.as_str(),
            key_of(Period::Day),
            key_of(Period::Month),
            ms(r.at),
            ms(r.expires_at),
        ]);
        stmts.push(Stmt {
            sql: format!(
                "INSERT INTO quota_reservations ({RESERVATION_COLS}) \
                 VALUES (?{id}, {guard}, ?2, ?3, NULL, ?{state}, ?{day}, ?{month}, ?{at}, NULL, ?{exp})",
                id = n + 1,
                state = n + 2,
                day = n + 3,
                month = n + 4,
                at = n + 5,
                exp = n + 6,
            ),
            params: insert_params,
        });
        for p in &r.periods {
            stmts.push(Stmt {
                sql: "UPDATE quota_counters SET used = used + ?5 \
                      WHERE agent_id = ?1 AND unit = ?2 AND period = ?3 AND period_key = ?4"
                    .to_owned(),
                params: params![&r.agent_id, unit, p.period.as_str(), &p.key, amount],
            });
        }
        match self.db.try_batch(stmts).await? {
            Ok(_) => Ok(true),
            Err(text) if text.contains(FULL) => Ok(false),
            Err(text) if text.contains("UNIQUE constraint failed") => {
                Err(Error::conflict("reservation id already used"))
            }
            Err(text) => Err(Error::internal("a database statement failed")
                .with_source(std::io::Error::other(text))),
        }
    }

    async fn used(&self, r: &ReserveRequest, period: Period, key: &str) -> Result<u64> {
        let row: Option<CounterRow> = self
            .db
            .row(
                "SELECT unit, period, period_key, used FROM quota_counters \
                 WHERE agent_id = ?1 AND unit = ?2 AND period = ?3 AND period_key = ?4",
                params![&r.agent_id, r.unit.as_str(), period.as_str(), key],
            )
            .await?;
        Ok(row
            .map(CounterRow::into_domain)
            .transpose()?
            .map_or(0, |c| c.used))
    }

    async fn close(
        &self,
        id: &str,
        charged: u64,
        state: ReservationState,
        at: Timestamp,
    ) -> Result<Reservation> {
        let charged = checked("actual", charged)?;
        let reserved = ReservationState::Reserved.as_str();
        let of = |col: &str| format!("(SELECT {col} FROM quota_reservations WHERE id = ?1)");
        let move_counters = format!(
            "UPDATE quota_counters SET used = MAX(used - {reserved_units}, 0) + MIN(?2, {reserved_units}) \
             WHERE agent_id = (SELECT agent_id FROM quota_reservations WHERE id = ?1 AND state = ?3) \
             AND unit = {unit} AND ((period = ?4 AND period_key = {day}) \
             OR (period = ?5 AND period_key = {month}))",
            reserved_units = of("reserved"),
            unit = of("unit"),
            day = of("day_key"),
            month = of("month_key"),
        );
        let changed = self
            .db
            .batch(
                vec![
                    Stmt {
                        sql: move_counters,
                        params: params![
                            id,
                            charged,
                            reserved,
                            Period::Day.as_str(),
                            Period::Month.as_str()
                        ],
                    },
                    Stmt {
                        // Never charged above the hold: the ledger's cap was checked against it.
                        sql: "UPDATE quota_reservations SET state = ?2, charged = MIN(?3, reserved), closed_at = ?4 \
                              WHERE id = ?1 AND state = ?5"
                            .to_owned(),
                        params: params![id, state.as_str(), charged, ms(at), reserved],
                    },
                ],
                |_| String::new(),
            )
            .await?;
        let reservation = self
            .get_reservation(id)
            .await?
            .ok_or_else(|| Error::not_found("reservation", id))?;
        if changed.get(1).copied().unwrap_or(0) == 0 {
            return Err(Error::conflict(format!(
                "reservation '{id}' is already {}",
                reservation.state.as_str()
            )));
        }
        Ok(reservation)
    }
}

#[async_trait]
impl QuotaStore for D1Store {
    async fn reserve(&self, r: &ReserveRequest) -> Result<ReserveOutcome> {
        let amount = checked("amount", r.amount)?;
        for attempt in 0..RETRIES {
            if self.try_reserve(r, amount).await? {
                return Ok(ReserveOutcome::Reserved);
            }
            // Report the first full period in the caller's order, as the contract says.
            for p in &r.periods {
                let Some(max) = p.max else { continue };
                let used = self.used(r, p.period, &p.key).await?;
                if used.saturating_add(r.amount) > max || attempt + 1 == RETRIES {
                    return Ok(ReserveOutcome::Exceeded {
                        period: p.period,
                        max,
                        used,
                    });
                }
            }
        }
        Err(Error::unavailable(
            "the quota ledger is too busy; try again",
        ))
    }

    async fn settle(&self, id: &str, actual: u64, at: Timestamp) -> Result<Reservation> {
        self.close(id, actual, ReservationState::Settled, at).await
    }

    async fn refund(&self, id: &str, at: Timestamp) -> Result<Reservation> {
        self.close(id, 0, ReservationState::Refunded, at).await
    }

    async fn get_reservation(&self, id: &str) -> Result<Option<Reservation>> {
        let sql = format!("SELECT {RESERVATION_COLS} FROM quota_reservations WHERE id = ?1");
        let row: Option<ReservationRow> = self.db.row(&sql, params![id]).await?;
        row.map(ReservationRow::into_domain).transpose()
    }

    async fn expired_reservations(&self, now: Timestamp, limit: u32) -> Result<Vec<Reservation>> {
        let sql = format!(
            "SELECT {RESERVATION_COLS} FROM quota_reservations \
             WHERE state = 'reserved' AND expires_at <= ?1 ORDER BY expires_at, id LIMIT ?2"
        );
        // `state` as a literal, as the partial index `idx_quota_reservations_open` names it.
        debug_assert_eq!(ReservationState::Reserved.as_str(), "reserved");
        let values = params![ms(now), i64::from(limit)];
        all(
            self.db.rows(&sql, values).await?,
            ReservationRow::into_domain,
        )
    }

    async fn forget_closed_reservations(&self, before: Timestamp, limit: u32) -> Result<u32> {
        let mut forgotten: u32 = 0;
        for (low, high) in reservation_ids_before(before) {
            let left = limit.saturating_sub(forgotten);
            if left == 0 {
                break;
            }
            // `state` as a literal, as in the expiry sweep.
            let deleted = self
                .db
                .run(
                    "DELETE FROM quota_reservations WHERE id IN (\
                     SELECT id FROM quota_reservations WHERE id >= ?1 AND id < ?2 \
                     AND state <> 'reserved' AND closed_at < ?3 ORDER BY id LIMIT ?4)",
                    params![low, high, ms(before), i64::from(left)],
                    |_| String::new(),
                )
                .await?;
            forgotten = forgotten.saturating_add(u32::try_from(deleted).unwrap_or(u32::MAX));
        }
        Ok(forgotten)
    }

    async fn usage(
        &self,
        agent_id: &str,
        periods: &[(Period, String)],
    ) -> Result<Vec<UsageCounter>> {
        if periods.is_empty() {
            return Ok(Vec::new());
        }
        let mut values = params![agent_id];
        let mut any = Vec::new();
        for (period, key) in periods {
            let n = values.len();
            any.push(format!("(period = ?{} AND period_key = ?{})", n + 1, n + 2));
            values.extend(params![period.as_str(), key]);
        }
        let sql = format!(
            "SELECT unit, period, period_key, used FROM quota_counters \
             WHERE agent_id = ?1 AND ({})",
            any.join(" OR ")
        );
        let mut counters = all(self.db.rows(&sql, values).await?, CounterRow::into_domain)?;
        counters.sort_by(|a, b| (a.unit, a.period, &a.key).cmp(&(b.unit, b.period, &b.key)));
        Ok(counters)
    }
}
