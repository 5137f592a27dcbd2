//! Per-agent rate limiting through the `RateLimiter` port: exactly the tier's requests per window,
//! then `RateLimited` with a `Retry-After`, and a fresh budget when the clock reaches the next
//! window. Windows are aligned to the epoch; the harness starts on a whole minute.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use molts_core::ErrorCode;
use std::time::Duration as StdDuration;

use chrono::Duration;
use common::{Harness, run};
use molts_core::domain::{LimitValue, Tier};
use molts_core::gateway::{AgentPrincipal, NewKeyRequest};
use molts_core::ports::RateDecision;
use molts_core::{ErrorKind, Gateway, GatewayConfig};

/// Hits the limiter `n` times, each of which must be allowed; returns the last decision.
async fn allowed(gateway: &Gateway, principal: &AgentPrincipal, n: u32) -> RateDecision {
    let mut last = None;
    for _ in 0..n {
        let decision = gateway
            .check_rate(principal)
            .await
            .map_err(|(e, _)| e)
            .expect("allowed")
            .expect("the tier is rate limited");
        assert!(decision.allowed);
        last = Some(decision);
    }
    last.expect("n > 0")
}

/// Hits the limiter once, which must be refused; returns the retry-after and the decision.
async fn refused(gateway: &Gateway, principal: &AgentPrincipal) -> (StdDuration, RateDecision) {
    let (error, decision) = gateway
        .check_rate(principal)
        .await
        .expect_err("the request should be rate limited");
    assert_eq!(error.kind(), ErrorKind::RateLimited, "{error}");
    assert_eq!(error.code(), Some(ErrorCode::RateLimitExceeded));
    let decision = decision.expect("a refusal carries the limiter's decision");
    assert!(!decision.allowed);
    assert_eq!(decision.remaining, 0);
    (
        error.retry_after().expect("a refusal says when to retry"),
        decision,
    )
}

#[test]
fn the_free_tier_allows_exactly_sixty_a_minute_counting_down() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        for i in 0..60u32 {
            let d = allowed(&h.gateway, &principal, 1).await;
            assert_eq!(d.limit, 60);
            assert_eq!(d.remaining, 59 - i);
            assert_eq!(d.reset_after, StdDuration::from_secs(60));
        }
        let (retry, decision) = refused(&h.gateway, &principal).await;
        assert_eq!(decision.limit, 60);
        assert_eq!(retry, StdDuration::from_secs(60));
        // Refused requests are not counted and do not extend the window.
        for _ in 0..5 {
            refused(&h.gateway, &principal).await;
        }
    });
}

#[test]
fn retry_after_counts_down_and_the_budget_resets_in_the_next_window() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        allowed(&h.gateway, &principal, 60).await;

        h.advance(Duration::seconds(45));
        let (retry, _) = refused(&h.gateway, &principal).await;
        assert_eq!(retry, StdDuration::from_secs(15));

        // Half a second before the window ends, Retry-After is still at least one second.
        h.advance(Duration::milliseconds(14_500));
        let (retry, decision) = refused(&h.gateway, &principal).await;
        assert_eq!(decision.reset_after, StdDuration::from_millis(500));
        assert_eq!(retry, StdDuration::from_secs(1));

        h.advance(Duration::milliseconds(500));
        let d = allowed(&h.gateway, &principal, 1).await;
        assert_eq!(d.remaining, 59);
        allowed(&h.gateway, &principal, 59).await;
        refused(&h.gateway, &principal).await;
    });
}

#[test]
fn a_window_started_mid_minute_still_ends_on_the_minute() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        h.advance(Duration::seconds(50));
        allowed(&h.gateway, &principal, 60).await;
        let (retry, _) = refused(&h.gateway, &principal).await;
        assert_eq!(retry, StdDuration::from_secs(10));
        h.advance(Duration::seconds(10));
        allowed(&h.gateway, &principal, 60).await;
    });
}

#[test]
fn the_window_width_comes_from_the_config() {
    run(async {
        let config = GatewayConfig {
            rate_window: StdDuration::from_secs(10),
            ..GatewayConfig::default()
        };
        let h = Harness::start_with(config, common::start_time()).await;
        let (_, principal) = h.agent("Ada").await;
        allowed(&h.gateway, &principal, 60).await;
        let (retry, _) = refused(&h.gateway, &principal).await;
        assert_eq!(retry, StdDuration::from_secs(10));
        h.advance(Duration::seconds(10));
        allowed(&h.gateway, &principal, 60).await;
    });
}

#[test]
fn budgets_are_per_agent_and_shared_by_its_keys() {
    run(async {
        let h = Harness::start().await;
        let (_, ada) = h.agent("Ada").await;
        let (_, bob) = h.agent("Bob").await;
        allowed(&h.gateway, &ada, 60).await;
        refused(&h.gateway, &ada).await;
        // Another agent is unaffected.
        let d = allowed(&h.gateway, &bob, 1).await;
        assert_eq!(d.remaining, 59);
        // Minting another key does not buy more requests: the agent's keys share one budget.
        let second = h
            .gateway
            .create_own_key(&ada, NewKeyRequest::default())
            .await
            .expect("second key");
        let ada_second = h.login(&second.secret).await;
        refused(&h.gateway, &ada_second).await;
    });
}

#[test]
fn each_tier_has_its_own_rate_and_an_unmetered_tier_is_not_limited() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        h.set_tier(&registered.agent.id, "pro").await;
        let pro = h.login(&registered.key.secret).await;
        let d = allowed(&h.gateway, &pro, 1).await;
        assert_eq!(d.limit, 600);
        allowed(&h.gateway, &pro, 599).await;
        refused(&h.gateway, &pro).await;

        h.gateway
            .admin_create_tier(
                &h.operator,
                Tier {
                    id: "unmetered".to_owned(),
                    name: "Unmetered".to_owned(),
                    description: String::new(),
                    limits: Default::default(),
                    requests_per_minute: None,
                    storage_bytes: LimitValue::Unlimited,
                    created_at: Default::default(),
                    updated_at: Default::default(),
                },
            )
            .await
            .expect("tier");
        h.set_tier(&registered.agent.id, "unmetered").await;
        let unmetered = h.login(&registered.key.secret).await;
        for _ in 0..2000 {
            let decision = h
                .gateway
                .check_rate(&unmetered)
                .await
                .map_err(|(e, _)| e)
                .expect("never limited");
            assert_eq!(decision, None);
        }
    });
}

#[test]
fn a_downgrade_mid_window_refuses_instead_of_failing() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        h.set_tier(&registered.agent.id, "pro").await;
        let pro = h.login(&registered.key.secret).await;
        allowed(&h.gateway, &pro, 100).await;

        // The same key, now on a tier whose limit is below what it already used this window.
        h.set_tier(&registered.agent.id, "free").await;
        let free = h.login(&registered.key.secret).await;
        let (_, decision) = refused(&h.gateway, &free).await;
        assert_eq!(decision.limit, 60);

        h.advance(Duration::minutes(1));
        let d = allowed(&h.gateway, &free, 1).await;
        assert_eq!(d.remaining, 59);
    });
}

#[test]
fn the_scheduled_work_forgets_finished_windows_and_keeps_the_current_one() {
    run(async {
        let h = Harness::start().await;
        let (_, ada) = h.agent("Ada").await;
        let (_, bob) = h.agent("Bob").await;
        allowed(&h.gateway, &ada, 5).await;

        // Within the minute nothing has ended.
        let report = h.gateway.run_scheduled_work().await.expect("round");
        assert_eq!(report.rate_windows_forgotten, 0);

        h.advance(Duration::seconds(61));
        allowed(&h.gateway, &bob, 2).await;
        let report = h.gateway.run_scheduled_work().await.expect("round");
        assert_eq!(report.rate_windows_forgotten, 1, "Ada's finished minute");
        // Bob's running window kept its count.
        let d = allowed(&h.gateway, &bob, 1).await;
        assert_eq!(d.remaining, 57);
    });
}
