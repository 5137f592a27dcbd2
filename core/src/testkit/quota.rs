//! Contract checks for the quota ledger, including exactness under concurrency.

use crate::Timestamp;
use crate::domain::{Period, PeriodLimit, ReservationState, ReserveOutcome, ReserveRequest, Unit};
use crate::error::{ErrorKind, Result};
use crate::ports::Stores;

use super::accounts::{sample_agent, sample_instance};
use super::{now_ms, unique};

fn request(
    agent_id: &str,
    unit: Unit,
    amount: u64,
    day_max: Option<u64>,
    month_max: Option<u64>,
) -> ReserveRequest {
    ReserveRequest {
        reservation_id: unique("rsv"),
        agent_id: agent_id.to_owned(),
        unit,
        amount,
        periods: vec![
            PeriodLimit {
                period: Period::Day,
                key: "2026-11-24".to_owned(),
                max: day_max,
            },
            PeriodLimit {
                period: Period::Month,
                key: "2026-11".to_owned(),
                max: month_max,
            },
        ],
        at: now_ms(),
        expires_at: now_ms() + chrono::Duration::minutes(15),
    }
}

async fn used(stores: &Stores, agent_id: &str, unit: Unit, period: Period) -> Result<u64> {
    let keys = [
        (Period::Day, "2026-11-24".to_owned()),
        (Period::Month, "2026-11".to_owned()),
    ];
    Ok(stores
        .quota
        .usage(agent_id, &keys)
        .await?
        .into_iter()
        .filter(|c| c.unit == unit && c.period == period)
        .map(|c| c.used)
        .sum())
}

/// Reserve, settle (more or less than held), refund, once each; limits on either period block.
pub async fn quota_ledger(stores: &Stores) -> Result<()> {
    let inst = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    let agent = sample_agent(&inst.id, None);
    stores.agents.insert_agent(&agent).await?;
    let id = agent.id.as_str();

    let r1 = request(id, Unit::TextToken, 500, None, Some(1000));
    assert_eq!(stores.quota.reserve(&r1).await?, ReserveOutcome::Reserved);
    assert_eq!(used(stores, id, Unit::TextToken, Period::Month).await?, 500);
    assert_eq!(used(stores, id, Unit::TextToken, Period::Day).await?, 500);

    let too_big = request(id, Unit::TextToken, 501, None, Some(1000));
    assert_eq!(
        stores.quota.reserve(&too_big).await?,
        ReserveOutcome::Exceeded {
            period: Period::Month,
            max: 1000,
            used: 500
        }
    );
    assert_eq!(
        stores
            .quota
            .get_reservation(&too_big.reservation_id)
            .await?,
        None
    );
    // A full day blocks even with month room, and holds nothing in the month either.
    let day_capped = request(id, Unit::TextToken, 10, Some(505), Some(1000));
    assert!(matches!(
        stores.quota.reserve(&day_capped).await?,
        ReserveOutcome::Exceeded {
            period: Period::Day,
            ..
        }
    ));
    assert_eq!(used(stores, id, Unit::TextToken, Period::Month).await?, 500);

    let settled = stores
        .quota
        .settle(&r1.reservation_id, 320, now_ms())
        .await?;
    assert_eq!(settled.state, ReservationState::Settled);
    assert_eq!(settled.charged, Some(320));
    assert_eq!(used(stores, id, Unit::TextToken, Period::Month).await?, 320);
    assert_eq!(used(stores, id, Unit::TextToken, Period::Day).await?, 320);
    let twice = stores.quota.settle(&r1.reservation_id, 320, now_ms()).await;
    assert_eq!(twice.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    let refund_after_settle = stores.quota.refund(&r1.reservation_id, now_ms()).await;
    assert_eq!(
        refund_after_settle.err().map(|e| e.kind()),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(used(stores, id, Unit::TextToken, Period::Month).await?, 320);

    // Settling above the hold charges the hold and no more: the caps were checked against it
    // (a caller charges any excess through a reservation of its own, which the caps may refuse).
    let r2 = request(id, Unit::TextToken, 100, None, Some(1000));
    stores.quota.reserve(&r2).await?;
    let over = stores
        .quota
        .settle(&r2.reservation_id, 250, now_ms())
        .await?;
    assert_eq!(over.charged, Some(100));
    assert_eq!(used(stores, id, Unit::TextToken, Period::Month).await?, 420);

    let r3 = request(id, Unit::Image, 3, None, Some(3));
    assert_eq!(stores.quota.reserve(&r3).await?, ReserveOutcome::Reserved);
    let refunded = stores.quota.refund(&r3.reservation_id, now_ms()).await?;
    assert_eq!(refunded.state, ReservationState::Refunded);
    assert_eq!(refunded.charged, Some(0));
    assert_eq!(used(stores, id, Unit::Image, Period::Month).await?, 0);
    let again = stores.quota.refund(&r3.reservation_id, now_ms()).await;
    assert_eq!(again.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    let missing = stores.quota.settle("rsv_missing", 1, now_ms()).await;
    assert_eq!(missing.err().map(|e| e.kind()), Some(ErrorKind::NotFound));

    // Unlimited units are still counted.
    let r4 = request(id, Unit::Video, 7, None, None);
    assert_eq!(stores.quota.reserve(&r4).await?, ReserveOutcome::Reserved);
    assert_eq!(used(stores, id, Unit::Video, Period::Month).await?, 7);
    let stored = stores.quota.get_reservation(&r4.reservation_id).await?;
    assert_eq!(
        stored.map(|r| (r.reserved, r.day_key, r.month_key)),
        Some((7, "2026-11-24".to_owned(), "2026-11".to_owned()))
    );
    Ok(())
}

/// `attempts` concurrent one-unit reservations against `remaining` free units: exactly
/// `min(attempts, remaining)` succeed and the counter ends exactly at the limit.
pub async fn quota_concurrent_exactness(
    stores: &Stores,
    attempts: usize,
    remaining: u64,
) -> Result<()> {
    let inst = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    let agent = sample_agent(&inst.id, None);
    stores.agents.insert_agent(&agent).await?;
    let limit = remaining + 5;
    // Use up 5 first, so the race is against a partly used counter.
    let warmup = request(&agent.id, Unit::Video, 5, None, Some(limit));
    assert_eq!(
        stores.quota.reserve(&warmup).await?,
        ReserveOutcome::Reserved
    );
    stores
        .quota
        .settle(&warmup.reservation_id, 5, now_ms())
        .await?;

    let requests: Vec<ReserveRequest> = (0..attempts)
        .map(|_| request(&agent.id, Unit::Video, 1, Some(limit + 1000), Some(limit)))
        .collect();
    let outcomes =
        futures::future::join_all(requests.iter().map(|r| stores.quota.reserve(r))).await;
    let mut reserved = 0u64;
    for outcome in outcomes {
        if outcome? == ReserveOutcome::Reserved {
            reserved += 1;
        }
    }
    let expected = remaining.min(attempts as u64);
    assert_eq!(
        reserved, expected,
        "{reserved} of {attempts} reservations succeeded against {remaining} remaining"
    );
    assert_eq!(
        used(stores, &agent.id, Unit::Video, Period::Month).await?,
        5 + expected
    );
    Ok(())
}

/// Expired holds: only `Reserved` ones past `expires_at` are listed, oldest first, up to the limit.
pub async fn quota_expiry(stores: &Stores) -> Result<()> {
    let inst = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    let agent = sample_agent(&inst.id, None);
    stores.agents.insert_agent(&agent).await?;
    let base = now_ms();
    let hold = |minutes: i64| {
        let mut r = request(&agent.id, Unit::Render, 1, None, None);
        r.expires_at = base + chrono::Duration::minutes(minutes);
        r
    };
    let (late, early, future, closed) = (hold(-5), hold(-10), hold(10), hold(-20));
    for r in [&late, &early, &future, &closed] {
        assert_eq!(stores.quota.reserve(r).await?, ReserveOutcome::Reserved);
    }
    stores.quota.refund(&closed.reservation_id, base).await?;
    let expired: Vec<String> = stores
        .quota
        .expired_reservations(base, 100)
        .await?
        .into_iter()
        .filter(|r| r.agent_id == agent.id)
        .map(|r| r.id)
        .collect();
    assert_eq!(
        expired,
        vec![early.reservation_id.clone(), late.reservation_id.clone()]
    );
    let stored = stores.quota.get_reservation(&late.reservation_id).await?;
    assert_eq!(stored.map(|r| r.expires_at), Some(late.expires_at));
    assert!(stores.quota.expired_reservations(base, 1).await?.len() <= 1);
    Ok(())
}

/// The ledger invariant under a random mix: `ops` reservations of random sizes in concurrent
/// waves, each then settled with a random measured amount (up to twice its hold), refunded, or
/// left open. After every wave, on both periods, `used` never passes its cap and equals what
/// the open holds hold plus what the closed ones charged. Deterministic for a `seed`.
pub async fn quota_invariant_random_mix(stores: &Stores, seed: u64, ops: usize) -> Result<()> {
    let inst = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    let agent = sample_agent(&inst.id, None);
    stores.agents.insert_agent(&agent).await?;
    let (day_max, month_max) = (60u64, 90u64);
    let mut rng = seed | 1;
    let mut next = move |bound: u64| {
        // xorshift64: enough to vary the mix, and the same on every store.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % bound.max(1)
    };
    let (mut open, mut charged) = (Vec::<(String, u64)>::new(), 0u64);
    let mut done = 0;
    while done < ops {
        let wave = (1 + next(8) as usize).min(ops - done);
        done += wave;
        let requests: Vec<ReserveRequest> = (0..wave)
            .map(|_| {
                request(
                    &agent.id,
                    Unit::AudioSecond,
                    1 + next(20),
                    Some(day_max),
                    Some(month_max),
                )
            })
            .collect();
        let outcomes =
            futures::future::join_all(requests.iter().map(|r| stores.quota.reserve(r))).await;
        for (r, outcome) in requests.iter().zip(outcomes) {
            if outcome? == ReserveOutcome::Reserved {
                open.push((r.reservation_id.clone(), r.amount));
            }
        }
        // Close a random part of the open holds, concurrently.
        let mut closing = Vec::new();
        open.retain(|(id, held)| match next(3) {
            0 => true,
            1 => {
                closing.push((id.clone(), *held, Some(next(2 * held + 1))));
                false
            }
            _ => {
                closing.push((id.clone(), *held, None));
                false
            }
        });
        let closes = closing.iter().map(|(id, _, actual)| async move {
            match actual {
                Some(actual) => stores.quota.settle(id, *actual, now_ms()).await,
                None => stores.quota.refund(id, now_ms()).await,
            }
        });
        for ((_, held, _), closed) in closing.iter().zip(futures::future::join_all(closes).await) {
            let c = closed?.charged.unwrap_or(0);
            assert!(c <= *held, "charged {c} above a hold of {held}");
            charged += c;
        }
        let holding: u64 = open.iter().map(|(_, held)| held).sum();
        for (period, max) in [(Period::Day, day_max), (Period::Month, month_max)] {
            let now = used(stores, &agent.id, Unit::AudioSecond, period).await?;
            assert!(now <= max, "{period:?} used {now} past its cap {max}");
            assert_eq!(
                now,
                holding + charged,
                "{period:?}: held {holding} + charged {charged}"
            );
        }
    }
    Ok(())
}

/// An id as `Ids` would have made it at `at`.
fn id_made_at(prefix: &str, at: Timestamp) -> String {
    let secs = u64::try_from(at.timestamp()).unwrap_or(0);
    let stamp = uuid::Timestamp::from_unix(uuid::NoContext, secs, at.timestamp_subsec_nanos());
    format!("{prefix}_{}", uuid::Uuid::new_v7(stamp).simple())
}

/// Forgetting closed reservations: only closed ones closed before the cutoff go (holds of
/// calls and of jobs alike), never an open hold however old, at most `limit` a call, and the
/// counters stay as they were. The rows are made years in the past, at an hour of their own
/// for this run, so no other test's reservations are old enough to be forgotten here.
pub async fn quota_forgetting(stores: &Stores) -> Result<()> {
    let inst = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    let agent = sample_agent(&inst.id, None);
    stores.agents.insert_agent(&agent).await?;
    // An hour somewhere in 2001–2006, chosen by this run's random id.
    let seed = unique("run");
    let hours = u64::from_str_radix(&seed[seed.len() - 8..], 16).unwrap_or(0) % (5 * 365 * 24);
    let base = Timestamp::from_timestamp_millis(978_307_200_000).unwrap_or_default()
        + chrono::Duration::hours(i64::try_from(hours).unwrap_or(0));
    let minute = |m: i64| base + chrono::Duration::minutes(m);
    let hold = |prefix: &str, made: i64| {
        let mut r = request(&agent.id, Unit::Image, 2, None, None);
        r.reservation_id = id_made_at(prefix, minute(made));
        r.at = minute(made);
        r.expires_at = minute(made + 15);
        r
    };
    let settled = hold("rsv", 0);
    let refunded = hold("rsv", 1);
    let open = hold("rsv", 2);
    let closed_late = hold("rsv", 3);
    let job_hold = hold("job", 4);
    for r in [&settled, &refunded, &open, &closed_late, &job_hold] {
        assert_eq!(stores.quota.reserve(r).await?, ReserveOutcome::Reserved);
    }
    let q = &stores.quota;
    q.settle(&settled.reservation_id, 1, minute(1)).await?;
    q.refund(&refunded.reservation_id, minute(2)).await?;
    q.settle(&closed_late.reservation_id, 2, minute(20)).await?;
    q.settle(&job_hold.reservation_id, 2, minute(5)).await?;
    let used_before = used(stores, &agent.id, Unit::Image, Period::Month).await?;
    assert_eq!(
        used_before,
        1 + 2 + 2 + 2,
        "settled, open, closed late, job"
    );

    let cutoff = minute(10);
    assert_eq!(q.forget_closed_reservations(cutoff, 0).await?, 0);
    assert_eq!(
        q.forget_closed_reservations(cutoff, 2).await?,
        2,
        "at most the limit"
    );
    let mut forgotten = 2;
    loop {
        let n = q.forget_closed_reservations(cutoff, 100).await?;
        if n == 0 {
            break;
        }
        forgotten += n;
    }
    assert!(forgotten >= 3, "forgot {forgotten}");
    for gone in [&settled, &refunded, &job_hold] {
        let left = q.get_reservation(&gone.reservation_id).await?;
        assert_eq!(left, None, "{} was kept", gone.reservation_id);
        let again = q.refund(&gone.reservation_id, cutoff).await;
        assert_eq!(again.err().map(|e| e.kind()), Some(ErrorKind::NotFound));
    }
    let kept = q.get_reservation(&open.reservation_id).await?;
    assert_eq!(
        kept.map(|r| r.state),
        Some(ReservationState::Reserved),
        "an open hold is never forgotten"
    );
    let kept = q.get_reservation(&closed_late.reservation_id).await?;
    assert_eq!(kept.map(|r| r.closed_at), Some(Some(minute(20))));
    assert_eq!(
        used(stores, &agent.id, Unit::Image, Period::Month).await?,
        used_before,
        "the counters keep what was charged"
    );
    // A later cutoff takes the one closed late, and still not the open hold.
    while q.forget_closed_reservations(minute(30), 100).await? > 0 {}
    assert_eq!(q.get_reservation(&closed_late.reservation_id).await?, None);
    assert!(q.get_reservation(&open.reservation_id).await?.is_some());
    Ok(())
}
