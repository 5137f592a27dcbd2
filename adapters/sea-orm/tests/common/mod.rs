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
    // Each holds 40, so every settlement (0 to 39) is within its hold.
    let holds = (0..40)
        .map(|_| ReserveRequest {
            amount: 40,
            ..one_unit(&agent_id, 10_000)
        })
        .collect::<Vec<_>>();
    for hold in &holds {
        assert_eq!(stores.quota.reserve(hold).await?, ReserveOutcome::Reserved);
    }
    let base = 7 + winners[0];
    assert_eq!(used().await?, vec![base + 1600, base + 1600]);
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

/// Two stores on one database (two processes, two replicas) share one budget per key: 60
/// concurrent hits, alternating between them, against a limit of 10 allow exactly 10. Opening a
/// key's next window deletes its finished one; the scheduled work's `forget_finished` deletes
/// the last one once it has ended.
pub(crate) async fn rate_shared_and_swept(
    one: &molts_sea_orm::SeaOrmStore,
    two: &molts_sea_orm::SeaOrmStore,
) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use molts_core::ports::RateLimiter;
    use molts_sea_orm::SqlRateLimiter;
    use sea_orm::ConnectionTrait;

    let limiters = [
        SqlRateLimiter::new(one.clone()),
        SqlRateLimiter::new(two.clone()),
    ];
    let key = format!("agt_{}", uuid::Uuid::now_v7().simple());
    let minute = std::time::Duration::from_secs(60);
    // Whole minutes of a fixed day, so the windows are known.
    let at = Timestamp::from_timestamp_millis(1_795_000_020_000).unwrap_or_default();
    let hits = (0..60).map(|i| limiters[i % 2].hit(&key, 10, minute, at));
    let mut allowed = 0;
    for decision in futures::future::join_all(hits).await {
        if decision?.allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10, "60 hits over two stores against a limit of 10");

    let rows = |store: &molts_sea_orm::SeaOrmStore| {
        let db = store.connection().clone();
        let key = key.clone();
        async move {
            let sql = format!("SELECT COUNT(*) AS n FROM rate_windows WHERE \"key\" = '{key}'");
            let row = db
                .query_one(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await?
                .ok_or("no count")?;
            Ok::<i64, Box<dyn std::error::Error + Send + Sync>>(row.try_get("", "n")?)
        }
    };
    assert_eq!(rows(one).await?, 1);
    let next = at + chrono::Duration::minutes(1);
    let decision = limiters[1].hit(&key, 10, minute, next).await?;
    assert!(decision.allowed && decision.remaining == 9, "{decision:?}");
    assert_eq!(rows(one).await?, 1, "the finished window was deleted");
    let forgotten = limiters[0].forget_finished(minute, next).await?;
    assert_eq!(
        rows(two).await?,
        1,
        "a window still running is kept ({forgotten})"
    );
    let later = next + chrono::Duration::minutes(1);
    let forgotten = limiters[0].forget_finished(minute, later).await?;
    assert!(forgotten >= 1, "forgot {forgotten}");
    assert_eq!(
        rows(two).await?,
        0,
        "the key's last window was deleted once it ended"
    );
    Ok(())
}
