//! Checks shared by the SQLite and PostgreSQL tests, beyond core's contract suite.

use molts_core::domain::{Period, PeriodLimit, ReserveOutcome, ReserveRequest, Unit};
use molts_core::{Result, Stores, Timestamp};

fn one_unit(agent_id: &str, max: u64) -> ReserveRequest {
    ReserveRequest {
        reservation_id: format!("rsv_{}", uuid::Uuid::now_v7().simple()),
        agent_id: agent_id.to_owned(),
        unit: Unit::Image,
        amount: 1,
        periods: vec![
            // Month first: the store must lock in its own order, not the caller's.
            PeriodLimit {
                period: Period::Month,
                key: "2026-11".to_owned(),
                max: Some(max),
            },
            PeriodLimit {
                period: Period::Day,
                key: "2026-11-24".to_owned(),
                max: Some(max + 1000),
            },
        ],
        at: Timestamp::from_timestamp_millis(1_795_000_000_000).unwrap_or_default(),
        expires_at: Timestamp::from_timestamp_millis(1_795_000_900_000).unwrap_or_default(),
    }
}

/// `attempts` one-unit reservations against a cap of `max`, alternating between two stores with
/// their own connection pools on one database (as two processes would): exactly `max` succeed.
pub(crate) async fn two_pools_stay_exact(
    a: &Stores,
    b: &Stores,
    attempts: usize,
    max: u64,
) -> Result<()> {
    let agent_id = format!("agt_{}", uuid::Uuid::now_v7().simple());
    let requests: Vec<ReserveRequest> = (0..attempts).map(|_| one_unit(&agent_id, max)).collect();
    let outcomes = futures::future::join_all(requests.iter().enumerate().map(|(i, r)| {
        let store = if i % 2 == 0 { a } else { b };
        store.quota.reserve(r)
    }))
    .await;
    let mut reserved = 0u64;
    for outcome in outcomes {
        match outcome? {
            ReserveOutcome::Reserved => reserved += 1,
            ReserveOutcome::Exceeded {
                period,
                max: m,
                used,
            } => {
                assert_eq!((period, m, used), (Period::Month, max, max));
            }
        }
    }
    assert_eq!(reserved, max.min(attempts as u64));
    let usage = a
        .quota
        .usage(
            &agent_id,
            &[
                (Period::Day, "2026-11-24".to_owned()),
                (Period::Month, "2026-11".to_owned()),
            ],
        )
        .await?;
    assert_eq!(usage.len(), 2);
    assert!(usage.iter().all(|c| c.used == reserved), "{usage:?}");
    Ok(())
}
