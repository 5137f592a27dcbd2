//! The reservation's two statements as fixed SQL text with numbered parameters: the counters
//! upsert and the reservation row (what `quota.rs` runs, and why it is exact, is described
//! there).
//!
//! Why not sea-query, as elsewhere: the reservation is on every metered call's path, and
//! building its statements was 3–4 % of the server's CPU in the benchmark's profile — SQL text
//! written afresh each call, only for SQLite's statement cache to look the same text up again.
//! The text depends only on the backend and the number of periods, so it is written once per
//! shape and kept; each call only collects its values. The same text runs on both backends
//! (`$N` on PostgreSQL, `?N` on SQLite), so there is one statement to read and to test.

use std::sync::OnceLock;

use molts_core::domain::{Period, ReservationState, ReserveRequest};
use sea_orm::{DbBackend, Statement, Value};

use crate::convert::ms;
use crate::in_dialect;

/// Periods a counters upsert's text is kept for; more are written each time (no tier has them).
const KEPT_SHAPES: usize = 4;

/// The reservation row, `Reserved`. Parameters: the id, agent, unit, amount, state, day and
/// month keys, created and expiry times.
const INSERT_RESERVATION: &str = "INSERT INTO quota_reservations \
(id, agent_id, unit, reserved, state, day_key, month_key, created_at, expires_at) \
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The counters upsert's text for `periods` periods, with `$N` placeholders.
///
/// `INSERT … ON CONFLICT DO UPDATE SET used = used + n WHERE used + n <= cap` over every
/// period's counter: a missing row is created holding the amount, an existing one takes it only
/// within its cap, so the rows it touches are the periods that took it. Parameters: `$1` agent,
/// `$2` unit, `$3` amount, then three per period — its name, key and cap (`i64::MAX` for none).
fn counters_text(periods: usize) -> String {
    let param = |period: usize, column: usize| 4 + 3 * period + column;
    let rows: Vec<String> = (0..periods)
        .map(|i| format!("($1, $2, ${}, ${}, $3)", param(i, 0), param(i, 1)))
        .collect();
    let caps: String = (0..periods)
        .map(|i| {
            format!(
                " WHEN quota_counters.period = ${} AND quota_counters.period_key = ${} THEN ${}",
                param(i, 0),
                param(i, 1),
                param(i, 2)
            )
        })
        .collect();
    format!(
        "INSERT INTO quota_counters (agent_id, unit, period, period_key, used) VALUES {} \
         ON CONFLICT (agent_id, unit, period, period_key) DO UPDATE \
         SET used = quota_counters.used + excluded.used \
         WHERE quota_counters.used + excluded.used <= CASE{caps} ELSE {} END",
        rows.join(", "),
        i64::MAX
    )
}

/// The counters upsert's text for `periods` periods on `backend`, written once per shape.
fn counters_sql(backend: DbBackend, periods: usize) -> String {
    static POSTGRES: [OnceLock<String>; KEPT_SHAPES] = [const { OnceLock::new() }; KEPT_SHAPES];
    static SQLITE: [OnceLock<String>; KEPT_SHAPES] = [const { OnceLock::new() }; KEPT_SHAPES];
    let kept = match backend {
        DbBackend::Postgres => &POSTGRES,
        _ => &SQLITE,
    };
    match periods.checked_sub(1).and_then(|i| kept.get(i)) {
        Some(cell) => cell
            .get_or_init(|| in_dialect(backend, &counters_text(periods)))
            .clone(),
        None => in_dialect(backend, &counters_text(periods)),
    }
}

/// The reservation insert's text on `backend`.
fn reservation_sql(backend: DbBackend) -> &'static str {
    static SQLITE: OnceLock<String> = OnceLock::new();
    match backend {
        DbBackend::Postgres => INSERT_RESERVATION,
        _ => SQLITE.get_or_init(|| in_dialect(backend, INSERT_RESERVATION)),
    }
}

/// The counters upsert for `request` holding `amount`, its periods in the canonical
/// (period, key) order, the order every writer locks them in (no deadlocks on PostgreSQL).
pub(crate) fn add_to_counters(
    backend: DbBackend,
    request: &ReserveRequest,
    amount: i64,
) -> Statement {
    let mut periods: Vec<_> = request.periods.iter().collect();
    periods.sort_by(|a, b| (a.period, &a.key).cmp(&(b.period, &b.key)));
    let mut values: Vec<Value> = Vec::with_capacity(3 + 3 * periods.len());
    values.extend([
        request.agent_id.as_str().into(),
        request.unit.as_str().into(),
        amount.into(),
    ]);
    for p in &periods {
        // A cap beyond BIGINT cannot be reached: the same as none.
        let cap = p
            .max
            .and_then(|m| i64::try_from(m).ok())
            .unwrap_or(i64::MAX);
        values.extend([p.period.as_str().into(), p.key.as_str().into(), cap.into()]);
    }
    Statement::from_sql_and_values(backend, counters_sql(backend, periods.len()), values)
}

/// The reservation row of `request`, `Reserved`, holding `amount`.
pub(crate) fn insert_reservation(
    backend: DbBackend,
    request: &ReserveRequest,
    amount: i64,
) -> Statement {
    let key_of = |period: Period| {
        request
            .periods
            .iter()
            .find(|p| p.period == period)
            .map_or("", |p| p.key.as_str())
    };
    Statement::from_sql_and_values(
        backend,
        reservation_sql(backend),
        [
            request.reservation_id.as_str().into(),
            request.agent_id.as_str().into(),
            request.unit.as_str().into(),
            amount.into(),
            ReservationState::Reserved.as_str().into(),
            key_of(Period::Day).into(),
            key_of(Period::Month).into(),
            ms(request.at).into(),
            ms(request.expires_at).into(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_upsert_names_each_period_with_its_own_parameters() {
        let two = counters_text(2);
        assert!(
            two.contains("VALUES ($1, $2, $4, $5, $3), ($1, $2, $7, $8, $3)"),
            "{two}"
        );
        assert!(
            two.contains(
                "WHEN quota_counters.period = $4 AND quota_counters.period_key = $5 THEN $6 \
                 WHEN quota_counters.period = $7 AND quota_counters.period_key = $8 THEN $9 ELSE"
            ),
            "{two}"
        );
        assert_eq!(
            counters_sql(DbBackend::Sqlite, 2),
            two.replace('$', "?"),
            "SQLite's text is the same with its placeholders"
        );
        // A shape beyond those kept is written each time, the same way.
        assert_eq!(counters_sql(DbBackend::Postgres, 5), counters_text(5));
    }
}
