//! Authentication by bearer key: unknown, malformed, revoked and expired keys are all the same
//! `Unauthorized`; a suspended agent is `Forbidden`; agent and admin keys are not interchangeable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{Harness, expect_err, run};
use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::{AdminScope, AgentStatus};
use molts_core::gateway::NewKeyRequest;

#[test]
fn unknown_and_malformed_agent_keys_are_unauthorized() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        let real = registered.key.secret.clone();
        // Same lookup prefix, different tail.
        let mut tampered = real.clone();
        let last = tampered.pop().expect("non-empty");
        tampered.push(if last == '0' { '1' } else { '0' });
        let truncated = real[..real.len() - 1].to_owned();
        let extended = format!("{real}0");
        let prefix_only = real[..16].to_owned();
        for bad in [
            "",
            "ml_",
            "Bearer x",
            "ml_00000000000000000000000000000000000000000000000000000000000000000",
            tampered.as_str(),
            truncated.as_str(),
            extended.as_str(),
            prefix_only.as_str(),
        ] {
            let e = expect_err(
                h.gateway.authenticate_agent(bad).await,
                ErrorKind::Unauthorized,
            );
            assert_eq!(e.code(), Some(ErrorCode::InvalidApiKey));
        }
        h.login(&real).await;
    });
}

#[test]
fn agent_and_admin_keys_are_not_interchangeable() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        expect_err(
            h.gateway.authenticate_admin(&registered.key.secret).await,
            ErrorKind::Unauthorized,
        );
        expect_err(
            h.gateway.authenticate_agent(&h.operator_token).await,
            ErrorKind::Unauthorized,
        );
    });
}

#[test]
fn a_revoked_key_is_unauthorized_and_other_keys_keep_working() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        let second = h
            .gateway
            .create_own_key(&principal, NewKeyRequest::default())
            .await
            .expect("second key");

        h.gateway
            .revoke_own_key(&principal, &registered.key.key.id)
            .await
            .expect("revoke the key in use");
        let e = expect_err(
            h.gateway.authenticate_agent(&registered.key.secret).await,
            ErrorKind::Unauthorized,
        );
        assert_eq!(e.code(), Some(ErrorCode::InvalidApiKey));
        assert_eq!(h.login(&second.secret).await.agent.id, registered.agent.id);

        // Revoking twice is NotFound; nothing comes back to life.
        expect_err(
            h.gateway
                .revoke_own_key(&principal, &registered.key.key.id)
                .await,
            ErrorKind::NotFound,
        );
        expect_err(
            h.gateway.authenticate_agent(&registered.key.secret).await,
            ErrorKind::Unauthorized,
        );
    });
}

#[test]
fn an_expiring_key_works_until_its_expiry_and_not_at_it() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        let expiring = h
            .gateway
            .create_own_key(
                &principal,
                NewKeyRequest {
                    name: Some("short-lived".to_owned()),
                    expires_in_days: Some(1),
                },
            )
            .await
            .expect("expiring key");
        assert_eq!(
            expiring.key.expires_at,
            Some(common::start_time() + Duration::days(1))
        );

        h.advance(Duration::days(1) - Duration::seconds(1));
        h.login(&expiring.secret).await;

        h.advance(Duration::seconds(1));
        let e = expect_err(
            h.gateway.authenticate_agent(&expiring.secret).await,
            ErrorKind::Unauthorized,
        );
        assert_eq!(e.code(), Some(ErrorCode::InvalidApiKey));
        // The key without an expiry is untouched by time.
        h.advance(Duration::days(3650));
        h.login(&registered.key.secret).await;
    });
}

#[test]
fn a_suspended_agent_is_forbidden_until_reactivated() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        h.set_status(&registered.agent.id, AgentStatus::Suspended)
            .await;
        let e = expect_err(
            h.gateway.authenticate_agent(&registered.key.secret).await,
            ErrorKind::Forbidden,
        );
        assert_eq!(e.code(), Some(ErrorCode::AgentSuspended));

        h.set_status(&registered.agent.id, AgentStatus::Active)
            .await;
        let principal = h.login(&registered.key.secret).await;
        assert_eq!(principal.agent.status, AgentStatus::Active);
    });
}

#[test]
fn a_deleted_agents_keys_are_unauthorized() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        h.gateway
            .admin_delete_agent(&h.operator, &registered.agent.id)
            .await
            .expect("delete");
        expect_err(
            h.gateway.authenticate_agent(&registered.key.secret).await,
            ErrorKind::Unauthorized,
        );
    });
}

#[test]
fn the_principal_carries_the_current_tier_and_instance() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        assert_eq!(principal.tier.id, "free");
        assert_eq!(principal.tier.requests_per_minute, Some(60));
        h.set_tier(&registered.agent.id, "pro").await;
        let again = h.login(&registered.key.secret).await;
        assert_eq!(again.tier.id, "pro");
        assert_eq!(again.agent.tier_id, "pro");
        assert_eq!(again.instance.id, "default");
    });
}

#[test]
fn admin_keys_authenticate_with_their_scope_and_read_only_flag() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", molts_core::domain::RegistrationMode::Open, None)
            .await;
        let issued = h.issue_admin_key(Some("acme"), true, None).await;
        let admin = h
            .gateway
            .authenticate_admin(&issued.secret)
            .await
            .expect("auth");
        assert_eq!(
            admin.scope,
            AdminScope::Instance {
                instance_id: "acme".to_owned()
            }
        );
        assert!(admin.read_only);
        assert_eq!(admin.key_id, issued.key.id);

        for bad in ["", "mla_", "mla_nope", &issued.secret[..20]] {
            let e = expect_err(
                h.gateway.authenticate_admin(bad).await,
                ErrorKind::Unauthorized,
            );
            assert_eq!(e.code(), Some(ErrorCode::InvalidApiKey));
        }
    });
}

#[test]
fn revoked_and_expired_admin_keys_are_unauthorized() {
    run(async {
        let h = Harness::start().await;
        let revoked = h.issue_admin_key(None, false, None).await;
        let expiring = h.issue_admin_key(None, true, Some(2)).await;
        h.gateway
            .admin_revoke_admin_key(&h.operator, &revoked.key.id)
            .await
            .expect("revoke");
        expect_err(
            h.gateway.authenticate_admin(&revoked.secret).await,
            ErrorKind::Unauthorized,
        );

        h.advance(Duration::days(2) - Duration::milliseconds(1));
        h.gateway
            .authenticate_admin(&expiring.secret)
            .await
            .expect("not yet expired");
        h.advance(Duration::milliseconds(1));
        expect_err(
            h.gateway.authenticate_admin(&expiring.secret).await,
            ErrorKind::Unauthorized,
        );
        h.gateway
            .authenticate_admin(&h.operator_token)
            .await
            .expect("the operator key is unaffected");
    });
}
