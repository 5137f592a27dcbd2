//! Checks shared by the SQLite and PostgreSQL tests, beyond core's contract suite.

use molts_core::domain::{Period, PeriodLimit, ReserveOutcome, ReserveRequest, Unit};
use molts_core::{Result, Stores, Timestamp};

pub(crate) fn one_unit(agent_id: &str, max: u64) -> ReserveRequest {
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

/// The ledger's shortcuts and fallbacks: a settlement of exactly the hold moves no counter, a
/// reused id holds nothing, an amount beyond a cap is refused without holding, and of racing
/// closers exactly one wins and moves the counters once.
pub(crate) async fn ledger_paths(stores: &Stores) -> Result<()> {
    use molts_core::ErrorKind;
    use molts_core::domain::ReservationState;

    let agent_id = format!("agt_{}", uuid::Uuid::now_v7().simple());
    let keys = [
        (Period::Day, "2026-11-24".to_owned()),
        (Period::Month, "2026-11".to_owned()),
    ];
    let used = || async {
        let counters = stores.quota.usage(&agent_id, &keys).await?;
        Ok::<_, molts_core::Error>(counters.iter().map(|c| c.used).collect::<Vec<_>>())
    };
    let at = Timestamp::from_timestamp_millis(1_795_000_000_000).unwrap_or_default();
    let mut held = one_unit(&agent_id, 100);
    held.amount = 7;
    assert_eq!(stores.quota.reserve(&held).await?, ReserveOutcome::Reserved);
    assert_eq!(used().await?, vec![7, 7]);

    // Settled as held: closed, counters as they were.
    let settled = stores.quota.settle(&held.reservation_id, 7, at).await?;
    assert_eq!(
        (settled.state, settled.charged, settled.reserved),
        (ReservationState::Settled, Some(7), 7)
    );
    assert_eq!(used().await?, vec![7, 7]);
    let again = stores.quota.refund(&held.reservation_id, at).await;
    assert_eq!(again.err().map(|e| e.kind()), Some(ErrorKind::Conflict));

    // A reused id: refused, and the counters it would have moved are back.
    let reused = stores.quota.reserve(&held).await;
    assert_eq!(reused.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    assert_eq!(used().await?, vec![7, 7]);

    // More than the cap at once: refused naming the period, nothing held.
    let mut huge = one_unit(&agent_id, 100);
    huge.amount = 101;
    assert_eq!(
        stores.quota.reserve(&huge).await?,
        ReserveOutcome::Exceeded {
            period: Period::Month,
            max: 100,
            used: 7
        }
    );
    assert_eq!(
        stores.quota.get_reservation(&huge.reservation_id).await?,
        None
    );
    assert_eq!(used().await?, vec![7, 7]);

    // Racing closers with different amounts: one wins, the counters move by its amount once.
    let mut raced = one_unit(&agent_id, 100);
    raced.amount = 10;
    stores.quota.reserve(&raced).await?;
    assert_eq!(used().await?, vec![17, 17]);
    let closers = (0..20u64).map(|i| {
        let id = raced.reservation_id.as_str();
        async move {
            if i == 0 {
                stores.quota.refund(id, at).await
            } else {
                stores.quota.settle(id, i, at).await
            }
        }
    });
    let mut winners = Vec::new();
    for outcome in futures::future::join_all(closers).await {
        match outcome {
            Ok(r) => winners.push(r.charged.unwrap_or_default()),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(used().await?, vec![7 + winners[0], 7 + winners[0]]);
    let missing = stores.quota.settle("rsv_missing_one", 1, at).await;
    assert_eq!(missing.err().map(|e| e.kind()), Some(ErrorKind::NotFound));

    // Many closes at once (on SQLite they share transactions): each caller is told about its
    // own reservation, and the counters move by every amount once.
    let holds = (0..40)
        .map(|_| one_unit(&agent_id, 1000))
        .collect::<Vec<_>>();
    for hold in &holds {
        assert_eq!(stores.quota.reserve(hold).await?, ReserveOutcome::Reserved);
    }
    let base = 7 + winners[0];
    assert_eq!(used().await?, vec![base + 40, base + 40]);
    let closes = holds.iter().enumerate().map(|(i, hold)| async move {
        let outcome = if i % 10 == 0 {
            stores.quota.refund(&hold.reservation_id, at).await
        } else {
            stores
                .quota
                .settle(&hold.reservation_id, i as u64, at)
                .await
        };
        (i, hold.reservation_id.as_str(), outcome)
    });
    let mut charged = 0;
    for (i, id, outcome) in futures::future::join_all(closes).await {
        let closed = outcome?;
        let expected = if i % 10 == 0 { 0 } else { i as u64 };
        assert_eq!((closed.id.as_str(), closed.charged), (id, Some(expected)));
        charged += expected;
    }
    assert_eq!(used().await?, vec![base + charged, base + charged]);
    Ok(())
}
