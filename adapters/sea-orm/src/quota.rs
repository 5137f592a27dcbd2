//! `QuotaStore`: the quota ledger, exact across periods, concurrent callers and processes.
//!
//! `reserve` runs one transaction of two statements: one `INSERT … ON CONFLICT DO UPDATE SET
//! used = used + n WHERE used + n <= max` over every period's counter (a missing row is created
//! holding `n`, which the caller has checked is within its cap), then the reservation row. A
//! period whose row the upsert did not touch is full; then the transaction rolls back and the
//! reservation is tried again one period at a time, which names the full period and its count.
//! Why this is exact:
//! - SQLite: the first statement is a write, so the transaction takes the database's write lock
//!   up front (waiting on the busy timeout) and holds it to commit. Writers run one at a time, and
//!   no transaction reads a snapshot it later fails to upgrade (`SQLITE_BUSY` without waiting).
//! - PostgreSQL (READ COMMITTED): `ON CONFLICT DO UPDATE` locks the existing counter row and
//!   evaluates its `WHERE` against the latest committed version after any wait, as a conditional
//!   `UPDATE` does, so two callers can never both pass the check on the same old value. The rows
//!   are listed, and so locked, in one canonical order (period, key), so concurrent
//!   multi-period reservations never deadlock.
//!
//! `settle` and `refund` flip the reservation with one conditional update that returns the row
//! (`… AND state = 'reserved' RETURNING …`), which makes each work once, and move the counters
//! by `charged - reserved` in the same transaction — no counter write at all when the measured
//! amount is what was held. On PostgreSQL the counters follow the flip one row at a time, in
//! the canonical order; on SQLite they go first, conditioned on the reservation still being
//! open (see `SQLITE_CLOSE_COUNTERS`).
//!
//! Every statement, `BEGIN` and `COMMIT` is a round trip to the connection (on SQLite, to the
//! thread sqlx runs it on), and those round trips are most of what the ledger costs, so there
//! are as few as the guarantees allow. On a SQLite file there are none: the transactions run
//! in place, on the caller's thread, through the ledger's own connection (`sqlite_ledger`),
//! whenever the write lock is free at once; when another writer holds it they go to sqlx's
//! thread and wait there (a reservation's two statements one at a time, four round trips; a
//! settlement's as one batch, three). On PostgreSQL
//! four round trips reserve and three to five settle. This process's SQLite writers take turns
//! in a queue (`SeaOrmStore::write_turn`) rather than in SQLite's sleeping busy handler.

use async_trait::async_trait;
use molts_core::domain::{
    Period, Reservation, ReservationState, ReserveOutcome, ReserveRequest, UsageCounter,
};
use molts_core::ports::QuotaStore;
use molts_core::{Error, Result, Timestamp};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, FromQueryResult,
    Iterable, QueryFilter, QueryOrder, QueryResult, QuerySelect, Set, Statement, TransactionTrait,
    Value,
};

use crate::SeaOrmStore;
use crate::convert::{self, count, ms, read_count};
use crate::entity::{quota_counter, quota_reservation};
use crate::error::{from_db, on_write};
use crate::reserve_sql::{add_to_counters, insert_reservation};
use crate::sqlite_ledger::{self as ledger, Finish, NotHere};

use quota_counter::Column as C;

/// Open holds, spelled as the partial index `idx_quota_reservations_open` is (a literal, not a
/// bound value, so every planner sees at once that the index applies).
const OPEN_HOLD: &str = "state = 'reserved'";

/// The filter selecting one counter row.
fn counter_key(agent_id: &str, unit: &str, period: Period, key: &str) -> Condition {
    Condition::all()
        .add(C::AgentId.eq(agent_id))
        .add(C::Unit.eq(unit))
        .add(C::Period.eq(period.as_str()))
        .add(C::PeriodKey.eq(key))
}

/// Creates the counter row at zero if it does not exist yet.
async fn ensure_counter<Db: ConnectionTrait>(
    db: &Db,
    agent_id: &str,
    unit: &str,
    period: Period,
    key: &str,
) -> Result<()> {
    let row = quota_counter::ActiveModel {
        agent_id: Set(agent_id.to_owned()),
        unit: Set(unit.to_owned()),
        period: Set(period.as_str().to_owned()),
        period_key: Set(key.to_owned()),
        used: Set(0),
    };
    quota_counter::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([C::AgentId, C::Unit, C::Period, C::PeriodKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(from_db)?;
    Ok(())
}

async fn read_used(
    txn: &DatabaseTransaction,
    agent_id: &str,
    unit: &str,
    period: Period,
    key: &str,
) -> Result<u64> {
    let row = quota_counter::Entity::find()
        .filter(counter_key(agent_id, unit, period, key))
        .one(txn)
        .await
        .map_err(from_db)?;
    match row {
        Some(r) => Ok(read_count("used units", r.used)?),
        None => Ok(0),
    }
}

/// The counter change of closing a hold: `used - reserved + charged`, never below zero (as the
/// memory store saturates).
fn held_back(reserved: i64, charged: i64) -> SimpleExpr {
    let held_back: SimpleExpr = Expr::case(Expr::col(C::Used).lt(reserved), Expr::value(0i64))
        .finally(Expr::col(C::Used).sub(reserved))
        .into();
    held_back.add(charged)
}

/// Whether `request` can take the one-statement path: every (period, key) once, and the amount
/// within every cap, so a counter row the upsert creates holding the amount is within its cap.
fn one_statement(request: &ReserveRequest) -> bool {
    let periods = &request.periods;
    !periods.is_empty()
        && periods.iter().enumerate().all(|(i, p)| {
            p.max.is_none_or(|max| request.amount <= max)
                && periods[..i]
                    .iter()
                    .all(|q| (q.period, &q.key) != (p.period, &p.key))
        })
}

/// SQLite: closing a hold is two statements under the write lock the first one takes. First
/// the counters move by `charged - reserved`, only if the reservation is still open and the
/// amounts differ; then the reservation flips, only if still open, returning its row. Both read
/// the same open-or-not state (nothing else writes in between), so either both happen or
/// neither does (and the caller rolls back). Parameters: ?1 charged, ?2 id, ?3 and ?4 the day
/// and month period names, ?5 the closed state, ?6 when.
///
/// The open state is written as [`OPEN_HOLD`] spells it, not bound: with a bound state SQLite
/// recompiled this statement on every execution (a bound value that may decide whether the
/// partial index of open holds applies makes the plan depend on it), so each settlement paid
/// a fresh parse and plan.
const SQLITE_CLOSE_COUNTERS: &str = "\
UPDATE quota_counters SET used = CASE WHEN quota_counters.used < r.reserved THEN 0 \
ELSE quota_counters.used - r.reserved END + MIN(?1, r.reserved) \
FROM (SELECT agent_id, unit, reserved, day_key, month_key FROM quota_reservations \
WHERE id = ?2 AND state = 'reserved' AND reserved > ?1) AS r \
WHERE quota_counters.agent_id = r.agent_id AND quota_counters.unit = r.unit \
AND ((quota_counters.period = ?3 AND quota_counters.period_key = r.day_key) \
OR (quota_counters.period = ?4 AND quota_counters.period_key = r.month_key))";
/// See [`SQLITE_CLOSE_COUNTERS`]; the columns in `quota_reservation::Model`'s order.
const SQLITE_CLOSE_FLIP: &str = "\
UPDATE quota_reservations SET state = ?5, charged = MIN(?1, reserved), closed_at = ?6 \
WHERE id = ?2 AND state = 'reserved' \
RETURNING id, agent_id, unit, reserved, charged, state, day_key, month_key, created_at, \
closed_at, expires_at";

/// The parameters of [`SQLITE_CLOSE_COUNTERS`] (the first four) and [`SQLITE_CLOSE_FLIP`].
fn close_values(charged: i64, id: &str, state: ReservationState, at: Timestamp) -> [Value; 6] {
    [
        charged.into(),
        id.into(),
        Period::Day.as_str().into(),
        Period::Month.as_str().into(),
        state.as_str().into(),
        ms(at).into(),
    ]
}

impl SeaOrmStore {
    /// The reservation one period at a time: make sure each counter exists, then a conditional
    /// `UPDATE` per period; reports the first full period in the caller's order with its count.
    async fn reserve_by_period(
        &self,
        request: &ReserveRequest,
        amount: i64,
    ) -> Result<ReserveOutcome> {
        let unit = request.unit.as_str();
        let agent_id = request.agent_id.as_str();
        // Lock counters in one canonical order whatever the request's order (no deadlocks).
        let mut order: Vec<usize> = (0..request.periods.len()).collect();
        order.sort_by(|&a, &b| {
            let (pa, pb) = (&request.periods[a], &request.periods[b]);
            (pa.period, &pa.key).cmp(&(pb.period, &pb.key))
        });

        let _turn = self.write_turn().await;
        let txn = self.db.begin().await.map_err(from_db)?;
        let mut full: Vec<usize> = Vec::new();
        for i in order {
            let p = &request.periods[i];
            ensure_counter(&txn, agent_id, unit, p.period, &p.key).await?;
            let mut add = quota_counter::Entity::update_many()
                .col_expr(C::Used, Expr::col(C::Used).add(amount))
                .filter(counter_key(agent_id, unit, p.period, &p.key));
            // A cap beyond BIGINT cannot be reached; treat it as no cap.
            if let Some(max) = p.max.and_then(|m| i64::try_from(m).ok()) {
                add = add.filter(Expr::col(C::Used).add(amount).lte(max));
            }
            if add.exec(&txn).await.map_err(from_db)?.rows_affected == 0 {
                full.push(i);
            }
        }
        // Report the first full period in the caller's order, as the contract says.
        if let Some(&i) = full.iter().min() {
            let p = &request.periods[i];
            let used = read_used(&txn, agent_id, unit, p.period, &p.key).await?;
            txn.rollback().await.map_err(from_db)?;
            return Ok(ReserveOutcome::Exceeded {
                period: p.period,
                max: p.max.unwrap_or(u64::MAX),
                used,
            });
        }
        // A reused id fails here, and dropping the transaction takes the counters back.
        txn.execute(insert_reservation(self.backend(), request, amount))
            .await
            .map_err(reused_id)?;
        txn.commit().await.map_err(from_db)?;
        Ok(ReserveOutcome::Reserved)
    }

    /// The counters and the reservation in one transaction of two statements (on SQLite in
    /// place, or else one batch). False, with nothing held, when a period had no room.
    async fn reserve_at_once(&self, request: &ReserveRequest, amount: i64) -> Result<bool> {
        let backend = self.backend();
        let counters = add_to_counters(backend, request, amount);
        let reservation = insert_reservation(backend, request, amount);
        let periods = request.periods.len();
        let _turn = self.write_turn().await;
        if let Some(ledger) = &self.ledger {
            let in_place = ledger.transaction(|txn| {
                if ledger::execute(txn, &counters).map_err(ledger::db_error)? != periods {
                    return Ok(Finish::Rollback(false));
                }
                ledger::execute(txn, &reservation).map_err(reused_id_in_place)?;
                Ok(Finish::Commit(true))
            });
            match in_place {
                Ok(took) => return Ok(took),
                Err(NotHere::Failed(e)) => return Err(e),
                Err(NotHere::Busy) => {} // another writer: wait for it on sqlx's thread
            }
        }
        let txn = self.db.begin().await.map_err(from_db)?;
        // A reused id fails the insert, and dropping the transaction takes the counters back.
        let done = txn.execute(counters).await.map_err(from_db)?;
        let took = done.rows_affected() == periods as u64 && {
            txn.execute(reservation).await.map_err(reused_id)?;
            true
        };
        if took {
            txn.commit().await.map_err(from_db)?;
        } else {
            txn.rollback().await.map_err(from_db)?;
        }
        Ok(took)
    }

    async fn close_reservation(
        &self,
        id: &str,
        charged: u64,
        state: ReservationState,
        at: Timestamp,
    ) -> Result<Reservation> {
        let charged_units = count("actual", charged)?;
        let flipped = if self.backend() == DbBackend::Sqlite {
            let values = close_values(charged_units, id, state, at);
            match &self.settle_batches {
                Some(batches) => batches.close(self, values).await?,
                None => self.write_close(values).await?,
            }
        } else {
            let txn = self.db.begin().await.map_err(from_db)?;
            let row = self
                .close_on_postgres(&txn, id, charged_units, state, at)
                .await?;
            if row.is_some() {
                txn.commit().await.map_err(from_db)?;
            } else {
                txn.rollback().await.map_err(from_db)?;
            }
            row
        };
        match flipped {
            Some(row) => Ok(convert::reservation(row)?),
            None => match self.get_reservation(id).await? {
                None => Err(Error::not_found("reservation", id)),
                Some(r) => Err(Error::conflict(format!(
                    "reservation '{id}' is already {}",
                    r.state.as_str()
                ))),
            },
        }
    }

    /// SQLite: one close in a transaction of its own, in place or else on sqlx's thread (see
    /// [`SQLITE_CLOSE_COUNTERS`]); the reservation's row, or `None` if it was not open.
    pub(crate) async fn write_close(
        &self,
        values: [Value; 6],
    ) -> Result<Option<quota_reservation::Model>> {
        let _turn = self.write_turn().await;
        if let Some(ledger) = &self.ledger {
            let in_place = ledger.transaction(|txn| {
                let flipped = close_in_place(txn, &values).map_err(ledger::db_error)?;
                Ok(match flipped {
                    Some(row) => Finish::Commit(Some(row)),
                    None => Finish::Rollback(None),
                })
            });
            match in_place {
                Ok(row) => return Ok(row),
                Err(NotHere::Failed(e)) => return Err(e),
                Err(NotHere::Busy) => {} // another writer: wait for it on sqlx's thread
            }
        }
        let txn = self.db.begin().await.map_err(from_db)?;
        let batch = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("{SQLITE_CLOSE_COUNTERS}; {SQLITE_CLOSE_FLIP}"),
            values,
        );
        // Every row of the batch (only the flip returns any), so both statements run.
        let row = txn
            .query_all(batch)
            .await
            .map_err(from_db)?
            .into_iter()
            .next()
            .map(|r| quota_reservation::Model::from_query_result(&r, ""))
            .transpose()
            .map_err(from_db)?;
        if row.is_some() {
            txn.commit().await.map_err(from_db)?;
        } else {
            txn.rollback().await.map_err(from_db)?;
        }
        Ok(row)
    }

    /// PostgreSQL: flips the reservation, then moves its counters one row at a time, in the
    /// order reservations lock them (no deadlocks). Nothing, and nothing moved, if it was not
    /// open.
    async fn close_on_postgres(
        &self,
        txn: &DatabaseTransaction,
        id: &str,
        charged: i64,
        state: ReservationState,
        at: Timestamp,
    ) -> Result<Option<quota_reservation::Model>> {
        let Some(flipped) = self.flip(txn, id, charged, state, at).await? else {
            return Ok(None);
        };
        let row = quota_reservation::Model::from_query_result(&flipped, "").map_err(from_db)?;
        let charged = row.charged.unwrap_or(charged);
        if row.reserved != charged {
            for (period, key) in [(Period::Day, &row.day_key), (Period::Month, &row.month_key)] {
                quota_counter::Entity::update_many()
                    .col_expr(C::Used, held_back(row.reserved, charged))
                    .filter(counter_key(&row.agent_id, &row.unit, period, key))
                    .exec(txn)
                    .await
                    .map_err(from_db)?;
            }
        }
        Ok(Some(row))
    }

    /// Flips an open reservation to `state` and returns its row, or nothing if it is not open:
    /// the state check and the flip are one statement, so two closers cannot both win.
    async fn flip(
        &self,
        txn: &DatabaseTransaction,
        id: &str,
        charged: i64,
        state: ReservationState,
        at: Timestamp,
    ) -> Result<Option<QueryResult>> {
        use quota_reservation::Column as R;
        let mut flip = Query::update();
        flip.table(quota_reservation::Entity)
            .value(R::State, state.as_str())
            // Never above the hold: the caps were checked against what was held.
            .value(
                R::Charged,
                Expr::case(Expr::col(R::Reserved).lt(charged), Expr::col(R::Reserved))
                    .finally(charged),
            )
            .value(R::ClosedAt, ms(at))
            .and_where(Expr::col(R::Id).eq(id))
            .and_where(Expr::col(R::State).eq(ReservationState::Reserved.as_str()))
            .returning(Query::returning().columns(R::iter()));
        txn.query_one(self.backend().build(&flip))
            .await
            .map_err(from_db)
    }
}

/// A failed reservation insert: a reused id is a `Conflict`.
fn reused_id(e: sea_orm::DbErr) -> Error {
    on_write(e, || "reservation id already used".to_owned())
}

/// [`reused_id`] for the in-place ledger.
fn reused_id_in_place(e: rusqlite::Error) -> Error {
    if ledger::is_unique_violation(&e) {
        return Error::conflict("reservation id already used").with_source(e);
    }
    ledger::db_error(e)
}

/// The in-place close: [`SQLITE_CLOSE_COUNTERS`] then [`SQLITE_CLOSE_FLIP`], returning the
/// flipped reservation, or nothing if it was not open.
pub(crate) fn close_in_place(
    txn: &rusqlite::Connection,
    values: &[Value; 6],
) -> rusqlite::Result<Option<quota_reservation::Model>> {
    use rusqlite::OptionalExtension;
    let all = ledger::params(values)?;
    txn.prepare_cached(SQLITE_CLOSE_COUNTERS)?
        .execute(rusqlite::params_from_iter(&all[..4]))?;
    txn.prepare_cached(SQLITE_CLOSE_FLIP)?
        .query_row(rusqlite::params_from_iter(&all), |r| {
            Ok(quota_reservation::Model {
                id: r.get(0)?,
                agent_id: r.get(1)?,
                unit: r.get(2)?,
                reserved: r.get(3)?,
                charged: r.get(4)?,
                state: r.get(5)?,
                day_key: r.get(6)?,
                month_key: r.get(7)?,
                created_at: r.get(8)?,
                closed_at: r.get(9)?,
                expires_at: r.get(10)?,
            })
        })
        .optional()
}

#[async_trait]
impl QuotaStore for SeaOrmStore {
    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome> {
        let amount = count("amount", request.amount)?;
        // A period that is full (or was, a moment ago) sends the request one period at a time,
        // which names it, or takes the room freed since.
        if one_statement(request) && self.reserve_at_once(request, amount).await? {
            return Ok(ReserveOutcome::Reserved);
        }
        self.reserve_by_period(request, amount).await
    }

    async fn settle(
        &self,
        reservation_id: &str,
        actual: u64,
        at: Timestamp,
    ) -> Result<Reservation> {
        self.close_reservation(reservation_id, actual, ReservationState::Settled, at)
            .await
    }

    async fn refund(&self, reservation_id: &str, at: Timestamp) -> Result<Reservation> {
        self.close_reservation(reservation_id, 0, ReservationState::Refunded, at)
            .await
    }

    async fn get_reservation(&self, reservation_id: &str) -> Result<Option<Reservation>> {
        let row = quota_reservation::Entity::find_by_id(reservation_id)
            .one(&self.db)
            .await
            .map_err(from_db)?;
        Ok(row.map(convert::reservation).transpose()?)
    }

    async fn expired_reservations(&self, now: Timestamp, limit: u32) -> Result<Vec<Reservation>> {
        use quota_reservation::Column as R;
        let rows = quota_reservation::Entity::find()
            .filter(Expr::cust(OPEN_HOLD))
            .filter(R::ExpiresAt.lte(ms(now)))
            .order_by_asc(R::ExpiresAt)
            .order_by_asc(R::Id)
            .limit(u64::from(limit))
            .all(&self.db)
            .await
            .map_err(from_db)?;
        rows.into_iter()
            .map(|r| convert::reservation(r).map_err(Into::into))
            .collect()
    }

    async fn forget_closed_reservations(&self, before: Timestamp, limit: u32) -> Result<u32> {
        self.forget_closed(before, limit).await
    }

    async fn usage(
        &self,
        agent_id: &str,
        periods: &[(Period, String)],
    ) -> Result<Vec<UsageCounter>> {
        if periods.is_empty() {
            return Ok(Vec::new());
        }
        let any_period = periods
            .iter()
            .fold(Condition::any(), |cond, (period, key)| {
                cond.add(
                    Condition::all()
                        .add(C::Period.eq(period.as_str()))
                        .add(C::PeriodKey.eq(key)),
                )
            });
        let rows = quota_counter::Entity::find()
            .filter(C::AgentId.eq(agent_id))
            .filter(any_period)
            .all(&self.db)
            .await
            .map_err(from_db)?;
        let mut counters = rows
            .into_iter()
            .map(convert::counter)
            .collect::<Result<Vec<_>, _>>()?;
        counters.sort_by(|a, b| (a.unit, a.period, &a.key).cmp(&(b.unit, b.period, &b.key)));
        Ok(counters)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_open_hold_filter_names_the_open_state() {
        let open = ReservationState::Reserved.as_str();
        assert_eq!(OPEN_HOLD, format!("state = '{open}'"));
        for sql in [SQLITE_CLOSE_COUNTERS, SQLITE_CLOSE_FLIP] {
            assert!(sql.contains(OPEN_HOLD), "{sql}");
        }
    }

    /// The close parameters of a settlement of `n` units of a hold numbered `n`.
    pub(crate) fn close_values_for_test(n: i64) -> [Value; 6] {
        close_values(
            n,
            &format!("rsv_{n}"),
            ReservationState::Settled,
            Timestamp::from_timestamp_millis(1_795_000_000_000).unwrap_or_default(),
        )
    }

    /// A one-unit hold for `agent`, numbered `n`.
    pub(crate) fn hold(agent: &str, n: i64) -> ReserveRequest {
        use molts_core::domain::{PeriodLimit, Unit};
        let period = |period, key: &str| PeriodLimit {
            period,
            key: key.to_owned(),
            max: Some(100),
        };
        ReserveRequest {
            reservation_id: format!("rsv_compiled_{n}"),
            agent_id: agent.to_owned(),
            unit: Unit::Image,
            // Room for the tests' settlements, which charge at most what was held.
            amount: 10,
            periods: vec![
                period(Period::Day, "2026-11-24"),
                period(Period::Month, "2026-11"),
            ],
            at: Timestamp::from_timestamp_millis(1_795_000_000_000 + n).unwrap_or_default(),
            expires_at: Timestamp::from_timestamp_millis(1_795_000_900_000).unwrap_or_default(),
        }
    }

    /// The in-place ledger prepares each statement once and reuses it, which only pays if
    /// SQLite never recompiles it. SQLite does so silently, on every execution, when a bound
    /// value can change the plan — as a bound open state did in the close's counters update
    /// (it may decide whether the partial index of open holds applies): a parse and a plan on
    /// every metered call that no functional test would notice.
    #[tokio::test]
    async fn the_ledger_statements_are_compiled_once()
    -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use rusqlite::{StatementStatus, params_from_iter};

        let dir = tempfile::tempdir()?;
        let path = dir.path().join("molts.db");
        let store = SeaOrmStore::connect(&format!("sqlite://{}?mode=rwc", path.display())).await?;
        store.migrate().await?;
        store.close().await?;

        let conn = rusqlite::Connection::open(&path)?;
        let sqlite = DbBackend::Sqlite;
        let bound = |s: &Statement| ledger::params(s.values.as_ref().map_or(&[][..], |v| &v.0[..]));
        let first = hold("agt_compiled", 0);
        let mut upsert = conn.prepare(&add_to_counters(sqlite, &first, 3).sql)?;
        let mut insert = conn.prepare(&insert_reservation(sqlite, &first, 3).sql)?;
        let mut counters = conn.prepare(SQLITE_CLOSE_COUNTERS)?;
        let mut flip = conn.prepare(SQLITE_CLOSE_FLIP)?;
        for n in 0..3 {
            let request = hold("agt_compiled", n);
            assert_eq!(
                upsert.execute(params_from_iter(bound(&add_to_counters(
                    sqlite, &request, 3
                ))?))?,
                2
            );
            assert_eq!(
                insert.execute(params_from_iter(bound(&insert_reservation(
                    sqlite, &request, 3
                ))?))?,
                1
            );
            let close = ledger::params(&close_values(
                2,
                &request.reservation_id,
                ReservationState::Settled,
                request.at,
            ))?;
            assert_eq!(counters.execute(params_from_iter(&close[..4]))?, 2);
            let flipped: String = flip.query_row(params_from_iter(&close), |r| r.get(0))?;
            assert_eq!(flipped, request.reservation_id);
        }
        let used: i64 = conn.query_row(
            "SELECT used FROM quota_counters WHERE agent_id = 'agt_compiled' AND period = 'month'",
            [],
            |r| r.get(0),
        )?;
        assert_eq!(used, 6, "three holds of three, each settled at two");
        for (name, statement) in [
            ("counters upsert", &upsert),
            ("reservation insert", &insert),
            ("close counters", &counters),
            ("close flip", &flip),
        ] {
            assert_eq!(
                statement.get_status(StatementStatus::RePrepare),
                0,
                "the {name} was recompiled"
            );
        }
        Ok(())
    }
}
