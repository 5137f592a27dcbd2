//! Quota: holding units before work, settling or refunding after, the usage report, and UTC day
//! and month rollover moved by the manual clock. The seeded free tier allows 10 videos a month and
//! 20 images a day (100 a month); pro has unlimited videos.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{Harness, at, expect_err, run};
use molts_core::ErrorCode;
use molts_core::domain::{LimitValue, Period, ReservationState, Unit};
use molts_core::gateway::{AgentPrincipal, Hold, PeriodUsage, UsageReport};
use molts_core::{ErrorKind, Gateway};

async fn hold(gateway: &Gateway, principal: &AgentPrincipal, unit: Unit, amount: u64) -> Hold {
    gateway
        .reserve(principal, unit, amount)
        .await
        .expect("the reservation fits")
}

async fn usage(gateway: &Gateway, principal: &AgentPrincipal) -> UsageReport {
    gateway.usage(principal).await.expect("usage")
}

fn month_of(report: &UsageReport, unit: Unit) -> PeriodUsage {
    report
        .unit(unit)
        .expect("every unit is reported")
        .month
        .clone()
}

fn day_of(report: &UsageReport, unit: Unit) -> PeriodUsage {
    report
        .unit(unit)
        .expect("every unit is reported")
        .day
        .clone()
}

fn capped(used: u64, max: u64, remaining: u64) -> PeriodUsage {
    PeriodUsage {
        used,
        limit: LimitValue::Max(max),
        remaining: LimitValue::Max(remaining),
    }
}

fn unlimited(used: u64) -> PeriodUsage {
    PeriodUsage {
        used,
        limit: LimitValue::Unlimited,
        remaining: LimitValue::Unlimited,
    }
}

#[test]
fn the_free_tier_allows_ten_videos_a_month_then_quota_exceeded() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        for i in 1..=10u64 {
            let held = hold(&h.gateway, &principal, Unit::Video, 1).await;
            assert!(held.reservation_id.starts_with("rsv_"));
            assert_eq!((held.unit, held.amount), (Unit::Video, 1));
            h.gateway.settle(&held, 1).await.expect("settle");
            let report = usage(&h.gateway, &principal).await;
            assert_eq!(month_of(&report, Unit::Video), capped(i, 10, 10 - i));
        }
        let e = expect_err(
            h.gateway.reserve(&principal, Unit::Video, 1).await,
            ErrorKind::QuotaExceeded,
        );
        assert_eq!(e.code(), Some(ErrorCode::QuotaExceeded));
        assert!(e.message().contains("monthly"), "{}", e.message());
        assert!(e.message().contains("free"), "{}", e.message());
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(month_of(&report, Unit::Video), capped(10, 10, 0));
    });
}

#[test]
fn a_reservation_larger_than_what_is_left_holds_nothing() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        expect_err(
            h.gateway.reserve(&principal, Unit::Video, 11).await,
            ErrorKind::QuotaExceeded,
        );
        hold(&h.gateway, &principal, Unit::Video, 7).await;
        expect_err(
            h.gateway.reserve(&principal, Unit::Video, 4).await,
            ErrorKind::QuotaExceeded,
        );
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(month_of(&report, Unit::Video), capped(7, 10, 3));
        hold(&h.gateway, &principal, Unit::Video, 3).await;
    });
}

#[test]
fn held_units_count_until_refunded_and_a_refund_gives_them_back() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let big = hold(&h.gateway, &principal, Unit::Video, 10).await;
        expect_err(
            h.gateway.reserve(&principal, Unit::Video, 1).await,
            ErrorKind::QuotaExceeded,
        );
        let refunded = h.gateway.refund(&big).await.expect("refund");
        assert_eq!(refunded.state, ReservationState::Refunded);
        assert_eq!(refunded.charged, Some(0));
        assert_eq!(refunded.reserved, 10);
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(month_of(&report, Unit::Video), capped(0, 10, 10));
        hold(&h.gateway, &principal, Unit::Video, 10).await;
    });
}

#[test]
fn a_hold_is_closed_exactly_once() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let refunded = hold(&h.gateway, &principal, Unit::Image, 2).await;
        h.gateway.refund(&refunded).await.expect("refund");
        expect_err(h.gateway.refund(&refunded).await, ErrorKind::Conflict);
        expect_err(h.gateway.settle(&refunded, 2).await, ErrorKind::Conflict);

        let settled = hold(&h.gateway, &principal, Unit::Image, 2).await;
        let reservation = h.gateway.settle(&settled, 2).await.expect("settle");
        assert_eq!(reservation.state, ReservationState::Settled);
        expect_err(h.gateway.settle(&settled, 2).await, ErrorKind::Conflict);
        expect_err(h.gateway.refund(&settled).await, ErrorKind::Conflict);

        let report = usage(&h.gateway, &principal).await;
        assert_eq!(day_of(&report, Unit::Image), capped(2, 20, 18));

        let forged = Hold {
            reservation_id: "rsv_missing".to_owned(),
            amount: 1,
            ..settled
        };
        expect_err(h.gateway.settle(&forged, 1).await, ErrorKind::NotFound);
        expect_err(h.gateway.refund(&forged).await, ErrorKind::NotFound);
    });
}

#[test]
fn settling_charges_the_measured_amount() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        // Less than held: the difference comes back.
        let estimate = hold(&h.gateway, &principal, Unit::AudioSecond, 120).await;
        let r = h.gateway.settle(&estimate, 90).await.expect("settle");
        assert_eq!((r.reserved, r.charged), (120, Some(90)));
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(month_of(&report, Unit::AudioSecond), capped(90, 600, 510));

        // More than held, with room: the hold is charged in full and the rest topped up.
        let under = hold(&h.gateway, &principal, Unit::AudioSecond, 100).await;
        let r = h.gateway.settle(&under, 130).await.expect("settle");
        assert_eq!((r.reserved, r.charged), (100, Some(100)));
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(month_of(&report, Unit::AudioSecond), capped(220, 600, 380));

        // More than held, without room: only what fits under the cap is charged; the counter
        // never passes it.
        let under = hold(&h.gateway, &principal, Unit::AudioSecond, 370).await;
        h.gateway.settle(&under, 400).await.expect("settle");
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(month_of(&report, Unit::AudioSecond), capped(600, 600, 0));
        expect_err(
            h.gateway.reserve(&principal, Unit::AudioSecond, 1).await,
            ErrorKind::QuotaExceeded,
        );
    });
}

#[test]
fn agents_do_not_share_quota() {
    run(async {
        let h = Harness::start().await;
        let (_, ada) = h.agent("Ada").await;
        let (_, bob) = h.agent("Bob").await;
        hold(&h.gateway, &ada, Unit::Video, 10).await;
        expect_err(
            h.gateway.reserve(&ada, Unit::Video, 1).await,
            ErrorKind::QuotaExceeded,
        );
        hold(&h.gateway, &bob, Unit::Video, 10).await;
        let report = usage(&h.gateway, &bob).await;
        assert_eq!(month_of(&report, Unit::Video), capped(10, 10, 0));
    });
}

#[test]
fn the_usage_report_lists_every_unit_against_the_tier() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(report.tier, "free");
        assert_eq!(report.day, "2026-01-15");
        assert_eq!(report.month, "2026-01");
        let units: Vec<Unit> = report.units.iter().map(|u| u.unit).collect();
        assert_eq!(units, Unit::ALL);
        assert_eq!(day_of(&report, Unit::Image), capped(0, 20, 20));
        assert_eq!(month_of(&report, Unit::Image), capped(0, 100, 100));
        // Free videos have no daily cap, only a monthly one.
        assert_eq!(day_of(&report, Unit::Video), unlimited(0));
        assert_eq!(month_of(&report, Unit::Video), capped(0, 10, 10));

        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["units"][0]["unit"], "video");
        assert_eq!(json["units"][0]["month"]["limit"], 10);
        assert_eq!(json["units"][0]["month"]["remaining"], 10);
        assert_eq!(json["units"][0]["day"]["limit"], "unlimited");
    });
}

#[test]
fn pro_videos_are_unlimited_and_reported_so() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        h.set_tier(&registered.agent.id, "pro").await;
        let principal = h.login(&registered.key.secret).await;
        let big = hold(&h.gateway, &principal, Unit::Video, 1_000).await;
        h.gateway.settle(&big, 1_000).await.expect("settle");
        hold(&h.gateway, &principal, Unit::Video, 5_000).await;

        let report = usage(&h.gateway, &principal).await;
        assert_eq!(report.tier, "pro");
        assert_eq!(month_of(&report, Unit::Video), unlimited(6_000));
        let json = serde_json::to_value(month_of(&report, Unit::Video)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"used": 6000, "limit": "unlimited", "remaining": "unlimited"})
        );
        // Pro is not unlimited for everything.
        assert_eq!(month_of(&report, Unit::Image), capped(0, 2_000, 2_000));
    });
}

#[test]
fn an_upgrade_lifts_the_cap_for_the_same_month() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        hold(&h.gateway, &principal, Unit::Video, 10).await;
        expect_err(
            h.gateway.reserve(&principal, Unit::Video, 1).await,
            ErrorKind::QuotaExceeded,
        );
        h.set_tier(&registered.agent.id, "pro").await;
        let upgraded = h.login(&registered.key.secret).await;
        hold(&h.gateway, &upgraded, Unit::Video, 1).await;
        let report = usage(&h.gateway, &upgraded).await;
        assert_eq!(month_of(&report, Unit::Video), unlimited(11));
    });
}

#[test]
fn the_daily_cap_resets_at_utc_midnight_while_the_month_keeps_counting() {
    run(async {
        let h = Harness::start_at(at(2026, 3, 10, 23, 0, 0)).await;
        let (_, principal) = h.agent("Ada").await;
        hold(&h.gateway, &principal, Unit::Image, 20).await;
        let e = expect_err(
            h.gateway.reserve(&principal, Unit::Image, 1).await,
            ErrorKind::QuotaExceeded,
        );
        assert!(e.message().contains("daily"), "{}", e.message());

        h.advance(Duration::minutes(59) + Duration::seconds(59));
        expect_err(
            h.gateway.reserve(&principal, Unit::Image, 1).await,
            ErrorKind::QuotaExceeded,
        );

        h.advance(Duration::seconds(1));
        hold(&h.gateway, &principal, Unit::Image, 1).await;
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(report.day, "2026-03-11");
        assert_eq!(day_of(&report, Unit::Image), capped(1, 20, 19));
        assert_eq!(month_of(&report, Unit::Image), capped(21, 100, 79));
    });
}

#[test]
fn the_monthly_cap_reaches_across_days_until_the_month_rolls_over() {
    run(async {
        let h = Harness::start_at(at(2026, 1, 31, 23, 58, 0)).await;
        let (_, principal) = h.agent("Ada").await;
        hold(&h.gateway, &principal, Unit::Image, 20).await;
        h.advance(Duration::minutes(1));
        expect_err(
            h.gateway.reserve(&principal, Unit::Image, 1).await,
            ErrorKind::QuotaExceeded,
        );
        hold(&h.gateway, &principal, Unit::Video, 10).await;
        expect_err(
            h.gateway.reserve(&principal, Unit::Video, 1).await,
            ErrorKind::QuotaExceeded,
        );

        h.advance(Duration::minutes(1));
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(
            (report.day.as_str(), report.month.as_str()),
            ("2026-02-01", "2026-02")
        );
        assert_eq!(month_of(&report, Unit::Video), capped(0, 10, 10));
        assert_eq!(day_of(&report, Unit::Image), capped(0, 20, 20));
        assert_eq!(month_of(&report, Unit::Image), capped(0, 100, 100));
        hold(&h.gateway, &principal, Unit::Video, 10).await;
    });
}

#[test]
fn closing_a_hold_after_rollover_adjusts_the_period_it_was_taken_in() {
    run(async {
        let h = Harness::start_at(at(2026, 1, 31, 23, 59, 59)).await;
        let (registered, principal) = h.agent("Ada").await;
        let january = hold(&h.gateway, &principal, Unit::Video, 3).await;
        h.advance(Duration::seconds(2));

        let february_hold = hold(&h.gateway, &principal, Unit::Video, 1).await;
        let reservation = h.gateway.settle(&january, 2).await.expect("settle");
        assert_eq!(reservation.month_key, "2026-01");
        assert_eq!(reservation.day_key, "2026-01-31");

        // February only holds its own unit.
        let report = usage(&h.gateway, &principal).await;
        assert_eq!(month_of(&report, Unit::Video), capped(1, 10, 9));
        h.gateway.refund(&february_hold).await.expect("refund");

        // January's counter carries the settled amount.
        let counters = h
            .stores()
            .quota
            .usage(
                &registered.agent.id,
                &[
                    (Period::Month, "2026-01".to_owned()),
                    (Period::Month, "2026-02".to_owned()),
                ],
            )
            .await
            .expect("counters");
        let used_in = |key: &str| {
            counters
                .iter()
                .filter(|c| c.unit == Unit::Video && c.key == key)
                .map(|c| c.used)
                .sum::<u64>()
        };
        assert_eq!(used_in("2026-01"), 2);
        assert_eq!(used_in("2026-02"), 0);
    });
}

#[test]
fn the_profile_and_the_admin_view_show_the_same_usage() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        let videos = hold(&h.gateway, &principal, Unit::Video, 3).await;
        h.gateway.settle(&videos, 3).await.expect("settle");
        let speech = hold(&h.gateway, &principal, Unit::AudioSecond, 90).await;
        h.gateway.settle(&speech, 90).await.expect("settle");

        let me = h.gateway.me(&principal).await.expect("me");
        assert_eq!(me.agent.id, registered.agent.id);
        assert_eq!(me.tier.id, "free");
        assert_eq!(me.videos_this_month(), 3);
        assert!((me.speech_minutes_this_month() - 1.5).abs() < f64::EPSILON);

        let detail = h
            .gateway
            .admin_get_agent(&h.operator, &registered.agent.id)
            .await
            .expect("admin view");
        assert_eq!(detail.usage, me.usage);
    });
}

#[test]
fn the_scheduled_work_closes_holds_left_open_charging_them_as_held() {
    run(async {
        let h = Harness::start().await;
        let (_, agent) = h.agent("Ada").await;
        let lost = h
            .gateway
            .reserve(&agent, Unit::Image, 3)
            .await
            .expect("hold");
        let kept = h
            .gateway
            .reserve(&agent, Unit::Image, 1)
            .await
            .expect("hold");
        h.gateway.settle(&kept, 1).await.expect("settle");

        // Before the hold's time is up nothing is touched.
        let report = h.gateway.run_scheduled_work().await.expect("round");
        assert_eq!(report.holds_expired, 0);

        h.advance(molts_core::gateway::HOLD_TTL + Duration::seconds(1));
        let report = h.gateway.run_scheduled_work().await.expect("round");
        assert_eq!(report.holds_expired, 1);
        let stored = h
            .stores()
            .quota
            .get_reservation(&lost.reservation_id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(stored.state, molts_core::domain::ReservationState::Settled);
        assert_eq!(stored.charged, Some(3));
        let usage = h.gateway.usage(&agent).await.expect("usage");
        assert_eq!(usage.unit(Unit::Image).map(|u| u.month.used), Some(4));
        // A second round finds nothing left to close.
        assert_eq!(
            h.gateway
                .run_scheduled_work()
                .await
                .expect("round")
                .holds_expired,
            0
        );
    });
}

#[test]
fn the_scheduled_work_forgets_closed_reservations_after_their_retention_keeping_the_counts() {
    run(async {
        // The clock starts at the host's time: reservation ids are made by the host's clock
        // (UUIDv7), and stores find old ones by them.
        let start = chrono::Utc::now();
        let h = Harness::start_at(start).await;
        let (_, agent) = h.agent("Ada").await;
        let settled = hold(&h.gateway, &agent, Unit::Image, 2).await;
        h.gateway.settle(&settled, 2).await.expect("settle");
        let refunded = hold(&h.gateway, &agent, Unit::Image, 1).await;
        h.gateway.refund(&refunded).await.expect("refund");
        // A hold open for longer than the retention (as a long job's is) stays open.
        let open = h
            .gateway
            .reserve_for(&agent, Unit::Image, 3, Duration::days(30))
            .await
            .expect("hold");
        let month = [(Period::Month, molts_core::clock::month_key(start))];
        let counted = h.stores().quota.usage(&agent.agent.id, &month).await;
        let counted = counted.expect("usage");
        assert_eq!(counted.iter().map(|c| c.used).sum::<u64>(), 2 + 3);

        let retention = Duration::from_std(molts_core::gateway::DEFAULT_RESERVATION_RETENTION)
            .expect("a retention chrono can hold");
        h.advance(retention - Duration::minutes(1));
        let report = h.gateway.run_scheduled_work().await.expect("round");
        assert_eq!(
            report.reservations_forgotten, 0,
            "still within the retention"
        );

        h.advance(Duration::minutes(2));
        let report = h.gateway.run_scheduled_work().await.expect("round");
        assert_eq!(report.reservations_forgotten, 2);
        let quota = &h.stores().quota;
        for gone in [&settled, &refunded] {
            let stored = quota.get_reservation(&gone.reservation_id).await;
            assert_eq!(stored.expect("get"), None);
        }
        let stored = quota.get_reservation(&open.reservation_id).await;
        let stored = stored.expect("get").expect("an open hold is kept");
        assert_eq!(stored.state, ReservationState::Reserved);
        assert_eq!(
            quota.usage(&agent.agent.id, &month).await.expect("usage"),
            counted,
            "the counters keep what the forgotten reservations charged"
        );
        let report = h.gateway.run_scheduled_work().await.expect("round");
        assert_eq!(report.reservations_forgotten, 0, "nothing left to forget");
    });
}
