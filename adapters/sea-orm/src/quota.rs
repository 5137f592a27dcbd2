//! `QuotaStore`: the quota ledger, exact across periods, concurrent callers and processes.
//!
//! `reserve` runs one transaction: for each period, make sure the counter row exists
//! (`INSERT … ON CONFLICT DO NOTHING`), then add the amount with a conditional
//! `UPDATE … SET used = used + n WHERE <key> AND used + n <= max`. A period whose update touches
//! no row is full; then the whole transaction rolls back. Why this is exact:
//! - SQLite: the first statement is a write, so the transaction takes the database's write lock
//!   up front (waiting on the busy timeout) and holds it to commit. Writers run one at a time, and
//!   no transaction reads a snapshot it later fails to upgrade (`SQLITE_BUSY` without waiting).
//! - PostgreSQL (READ COMMITTED): the `UPDATE` locks the counter row and re-evaluates its `WHERE`
//!   against the latest committed version after any wait, so two callers can never both pass the
//!   check on the same old value. Rows are locked in one canonical order (period, key), so
//!   concurrent multi-period reservations never deadlock.
//!
//! `settle` and `refund` flip the reservation with a conditional update (`… AND state =
//! 'reserved'`), which makes each work once, then move both counters by `charged - reserved` in
//! the same transaction.

use async_trait::async_trait;
use molts_core::domain::{
    Period, Reservation, ReservationState, ReserveOutcome, ReserveRequest, UsageCounter,
};
use molts_core::ports::QuotaStore;
use molts_core::{Error, Result, Timestamp};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::SeaOrmStore;
use crate::convert::{self, count, ms, read_count};
use crate::entity::{quota_counter, quota_reservation};
use crate::error::{from_db, on_write};

use quota_counter::Column as C;

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

impl SeaOrmStore {
    async fn close_reservation(
        &self,
        id: &str,
        charged: u64,
        state: ReservationState,
        at: Timestamp,
    ) -> Result<Reservation> {
        use quota_reservation::Column as R;
        let charged_units = count("actual", charged)?;
        let txn = self.db.begin().await.map_err(from_db)?;
        // The state check and the flip are one statement, so two closers cannot both win.
        let flipped = quota_reservation::Entity::update_many()
            .col_expr(R::State, Expr::value(state.as_str()))
            .col_expr(R::Charged, Expr::value(charged_units))
            .col_expr(R::ClosedAt, Expr::value(ms(at)))
            .filter(R::Id.eq(id))
            .filter(R::State.eq(ReservationState::Reserved.as_str()))
            .exec(&txn)
            .await
            .map_err(from_db)?;
        let row = quota_reservation::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(from_db)?;
        let Some(row) = row else {
            txn.rollback().await.map_err(from_db)?;
            return Err(Error::not_found("reservation", id));
        };
        let reservation = convert::reservation(row)?;
        if flipped.rows_affected == 0 {
            txn.rollback().await.map_err(from_db)?;
            return Err(Error::conflict(format!(
                "reservation '{id}' is already {}",
                reservation.state.as_str()
            )));
        }
        let reserved = count("reserved", reservation.reserved)?;
        let unit = reservation.unit.as_str();
        for (period, key) in [
            (Period::Day, &reservation.day_key),
            (Period::Month, &reservation.month_key),
        ] {
            // used - reserved + charged, never below zero (as the memory store saturates).
            let held_back: SimpleExpr =
                Expr::case(Expr::col(C::Used).lt(reserved), Expr::value(0i64))
                    .finally(Expr::col(C::Used).sub(reserved))
                    .into();
            quota_counter::Entity::update_many()
                .col_expr(C::Used, held_back.add(charged_units))
                .filter(counter_key(&reservation.agent_id, unit, period, key))
                .exec(&txn)
                .await
                .map_err(from_db)?;
        }
        txn.commit().await.map_err(from_db)?;
        Ok(reservation)
    }
}

#[async_trait]
impl QuotaStore for SeaOrmStore {
    async fn reserve(&self, request: &ReserveRequest) -> Result<ReserveOutcome> {
        let amount = count("amount", request.amount)?;
        let unit = request.unit.as_str();
        let agent_id = request.agent_id.as_str();
        // Lock counters in one canonical order whatever the request's order (no deadlocks).
        let mut order: Vec<usize> = (0..request.periods.len()).collect();
        order.sort_by(|&a, &b| {
            let (pa, pb) = (&request.periods[a], &request.periods[b]);
            (pa.period, &pa.key).cmp(&(pb.period, &pb.key))
        });

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

        let key_of = |period: Period| {
            request
                .periods
                .iter()
                .find(|p| p.period == period)
                .map(|p| p.key.clone())
                .unwrap_or_default()
        };
        let row = quota_reservation::Model {
            id: request.reservation_id.clone(),
            agent_id: agent_id.to_owned(),
            unit: unit.to_owned(),
            reserved: amount,
            charged: None,
            state: ReservationState::Reserved.as_str().to_owned(),
            day_key: key_of(Period::Day),
            month_key: key_of(Period::Month),
            created_at: ms(request.at),
            closed_at: None,
            expires_at: ms(request.expires_at),
        };
        // A reused id fails here, and dropping the transaction takes the counters back.
        quota_reservation::Entity::insert(row.into_active_model().reset_all())
            .exec_without_returning(&txn)
            .await
            .map_err(|e| on_write(e, || "reservation id already used".to_owned()))?;
        txn.commit().await.map_err(from_db)?;
        Ok(ReserveOutcome::Reserved)
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
            .filter(R::State.eq(ReservationState::Reserved.as_str()))
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
