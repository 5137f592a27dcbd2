//! The hot-path caches: a change made through the gateway is seen at once; a change made behind
//! its back (another replica, the store directly) is seen within the cache TTL; a cached key still
//! expires on time; and a TTL of zero turns caching off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{Harness, expect_err, run};
use molts_core::domain::AgentStatus;
use molts_core::gateway::NewKeyRequest;
use molts_core::{ErrorKind, GatewayConfig};

#[test]
fn a_change_behind_the_gateways_back_shows_within_the_ttl() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        let key = registered.key.secret.clone();
        // Another replica suspends the agent: this one serves its cached view for up to 5 s...
        let mut agent = registered.agent.clone();
        agent.status = AgentStatus::Suspended;
        h.stores()
            .agents
            .update_agent(&agent)
            .await
            .expect("update");
        h.gateway
            .authenticate_agent(&key)
            .await
            .expect("still cached");
        // ...and sees the change once the entry is older than the TTL.
        h.advance(Duration::seconds(6));
        expect_err(
            h.gateway.authenticate_agent(&key).await,
            ErrorKind::Forbidden,
        );
    });
}

#[test]
fn a_change_through_the_gateway_is_seen_at_once() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        h.gateway
            .authenticate_agent(&registered.key.secret)
            .await
            .expect("cached now");
        h.gateway
            .revoke_own_key(&principal, &registered.key.key.id)
            .await
            .expect("revoke");
        expect_err(
            h.gateway.authenticate_agent(&registered.key.secret).await,
            ErrorKind::Unauthorized,
        );
    });
}

#[test]
fn a_cached_key_still_expires_on_time() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let short = h
            .gateway
            .create_own_key(
                &principal,
                NewKeyRequest {
                    name: None,
                    expires_in_days: Some(1),
                },
            )
            .await
            .expect("key");
        h.advance(Duration::days(1) - Duration::seconds(2));
        h.gateway
            .authenticate_agent(&short.secret)
            .await
            .expect("valid, and now cached");
        h.advance(Duration::seconds(3));
        expect_err(
            h.gateway.authenticate_agent(&short.secret).await,
            ErrorKind::Unauthorized,
        );
    });
}

#[test]
fn a_zero_ttl_reads_the_store_every_time() {
    run(async {
        let config = GatewayConfig {
            cache_ttl: std::time::Duration::ZERO,
            ..GatewayConfig::default()
        };
        let h = Harness::start_with(config, common::start_time()).await;
        let (registered, _) = h.agent("Ada").await;
        h.gateway
            .authenticate_agent(&registered.key.secret)
            .await
            .expect("auth");
        let mut agent = registered.agent.clone();
        agent.status = AgentStatus::Suspended;
        h.stores()
            .agents
            .update_agent(&agent)
            .await
            .expect("update");
        expect_err(
            h.gateway.authenticate_agent(&registered.key.secret).await,
            ErrorKind::Forbidden,
        );
    });
}
