//! Admin keys: issued once as `mla_…` and stored hashed; instance admins issue and see only their
//! own instance's keys; revocation, and the rule that the last live operator key stays.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{Harness, assert_generated_secret, assert_secret_not_in, expect_err, run};
use molts_core::ErrorCode;
use molts_core::domain::{AdminScope, RegistrationMode};
use molts_core::gateway::AdminKeyRequest;
use molts_core::{ErrorKind, secret};

fn request(name: &str, instance_id: Option<&str>) -> AdminKeyRequest {
    AdminKeyRequest {
        name: name.to_owned(),
        instance_id: instance_id.map(str::to_owned),
        read_only: false,
        expires_in_days: None,
    }
}

#[test]
fn an_issued_admin_key_is_shown_once_and_stored_as_a_hash() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        let issued = h
            .gateway
            .admin_create_admin_key(
                &h.operator,
                AdminKeyRequest {
                    expires_in_days: Some(30),
                    read_only: true,
                    ..request(" acme viewer ", Some("acme"))
                },
            )
            .await
            .expect("issue");
        assert_generated_secret(&issued.secret, "mla");
        assert_eq!(issued.secret.len(), 68);
        assert!(issued.key.id.starts_with("adk_"));
        assert_eq!(issued.key.name, "acme viewer");
        assert!(issued.key.read_only);
        assert_eq!(
            issued.key.expires_at,
            Some(common::start_time() + Duration::days(30))
        );
        assert_eq!(
            issued.key.scope,
            AdminScope::Instance {
                instance_id: "acme".to_owned()
            }
        );

        let stored = h
            .stores()
            .admin_keys
            .list_admin_keys()
            .await
            .expect("list")
            .into_iter()
            .find(|k| k.id == issued.key.id)
            .expect("stored");
        assert_eq!(stored.hash, secret::hash(&issued.secret));
        assert_eq!(stored.prefix, &issued.secret[..secret::LOOKUP_PREFIX_LEN]);
        assert_secret_not_in(
            &issued.secret,
            &[&stored.id, &stored.name, &stored.prefix, &stored.hash],
        );
        let json = serde_json::to_string(&stored).expect("json");
        assert!(!json.contains(&stored.hash));
    });
}

#[test]
fn admin_key_requests_are_validated() {
    run(async {
        let h = Harness::start().await;
        let e = expect_err(
            h.gateway
                .admin_create_admin_key(&h.operator, request("  ", None))
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("name"));
        for days in [0, 3651] {
            let e = expect_err(
                h.gateway
                    .admin_create_admin_key(
                        &h.operator,
                        AdminKeyRequest {
                            expires_in_days: Some(days),
                            ..request("k", None)
                        },
                    )
                    .await,
                ErrorKind::Invalid,
            );
            assert_eq!(e.param(), Some("expires_in_days"));
        }
        expect_err(
            h.gateway
                .admin_create_admin_key(&h.operator, request("k", Some("nowhere")))
                .await,
            ErrorKind::NotFound,
        );
        let keys = h.stores().admin_keys.list_admin_keys().await.expect("list");
        assert_eq!(keys.len(), 1, "only the bootstrap key");
    });
}

#[test]
fn an_instance_admin_issues_keys_only_for_its_own_instance() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        h.instance("globex", RegistrationMode::Open, None).await;
        let acme = h.admin(Some("acme"), false).await;

        let issued = h
            .gateway
            .admin_create_admin_key(&acme, request("second", Some("acme")))
            .await
            .expect("own instance");
        let second = h
            .gateway
            .authenticate_admin(&issued.secret)
            .await
            .expect("auth");
        assert_eq!(second.scope.instance_id(), Some("acme"));

        let e = expect_err(
            h.gateway
                .admin_create_admin_key(&acme, request("escalate", None))
                .await,
            ErrorKind::Forbidden,
        );
        assert_eq!(e.code(), Some(ErrorCode::Forbidden));
        expect_err(
            h.gateway
                .admin_create_admin_key(&acme, request("sideways", Some("globex")))
                .await,
            ErrorKind::NotFound,
        );
        let keys = h.stores().admin_keys.list_admin_keys().await.expect("list");
        assert_eq!(keys.len(), 3, "bootstrap, acme, acme's second");
        assert!(
            keys.iter()
                .filter(|k| k.scope == AdminScope::Operator)
                .count()
                == 1
        );
    });
}

#[test]
fn an_instance_admin_lists_only_its_own_instances_keys() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        h.instance("globex", RegistrationMode::Open, None).await;
        let acme = h.admin(Some("acme"), false).await;
        let acme_ro = h.admin(Some("acme"), true).await;
        h.admin(Some("globex"), false).await;
        h.admin(None, true).await;

        let listed = h.gateway.admin_list_admin_keys(&acme).await.expect("list");
        let mut ids: Vec<&str> = listed.iter().map(|k| k.id.as_str()).collect();
        ids.sort_unstable();
        let mut expected = [acme.key_id.as_str(), acme_ro.key_id.as_str()];
        expected.sort_unstable();
        assert_eq!(ids, expected);

        let everything = h
            .gateway
            .admin_list_admin_keys(&h.operator)
            .await
            .expect("list");
        assert_eq!(everything.len(), 5);
    });
}

#[test]
fn the_last_live_operator_key_cannot_be_revoked() {
    run(async {
        let h = Harness::start().await;
        let e = expect_err(
            h.gateway
                .admin_revoke_admin_key(&h.operator, &h.operator.key_id)
                .await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("last operator"));

        // A read-only operator key does not count as a way back in.
        let read_only = h.admin(None, true).await;
        expect_err(
            h.gateway
                .admin_revoke_admin_key(&h.operator, &h.operator.key_id)
                .await,
            ErrorKind::Conflict,
        );
        h.gateway
            .admin_revoke_admin_key(&h.operator, &read_only.key_id)
            .await
            .expect("read-only keys can always go");

        // With a second writable operator key, one may go; then the other is the last.
        let second = h.admin(None, false).await;
        h.gateway
            .admin_revoke_admin_key(&second, &h.operator.key_id)
            .await
            .expect("revoke the first");
        expect_err(
            h.gateway.authenticate_admin(&h.operator_token).await,
            ErrorKind::Unauthorized,
        );
        expect_err(
            h.gateway
                .admin_revoke_admin_key(&second, &second.key_id)
                .await,
            ErrorKind::Conflict,
        );
    });
}

#[test]
fn an_expired_operator_key_does_not_count_as_live() {
    run(async {
        let h = Harness::start().await;
        let expiring = h.issue_admin_key(None, false, Some(1)).await;
        h.advance(Duration::days(1));
        // The only other operator key has expired, so the bootstrap key is the last live one.
        expect_err(
            h.gateway
                .admin_revoke_admin_key(&h.operator, &h.operator.key_id)
                .await,
            ErrorKind::Conflict,
        );
        // The expired one may be revoked (it is not live).
        h.gateway
            .admin_revoke_admin_key(&h.operator, &expiring.key.id)
            .await
            .expect("revoke an expired key");
    });
}

#[test]
fn revoking_is_scoped_and_happens_once() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        h.instance("globex", RegistrationMode::Open, None).await;
        let acme = h.admin(Some("acme"), false).await;
        let globex_key = h.issue_admin_key(Some("globex"), false, None).await;
        let acme_second = h.issue_admin_key(Some("acme"), true, None).await;

        // Another tenant's key and the operator's key are invisible to an instance admin.
        for id in [globex_key.key.id.as_str(), h.operator.key_id.as_str()] {
            expect_err(
                h.gateway.admin_revoke_admin_key(&acme, id).await,
                ErrorKind::NotFound,
            );
        }
        h.gateway
            .authenticate_admin(&globex_key.secret)
            .await
            .expect("untouched");

        h.gateway
            .admin_revoke_admin_key(&acme, &acme_second.key.id)
            .await
            .expect("its own instance's key");
        expect_err(
            h.gateway.authenticate_admin(&acme_second.secret).await,
            ErrorKind::Unauthorized,
        );
        expect_err(
            h.gateway
                .admin_revoke_admin_key(&acme, &acme_second.key.id)
                .await,
            ErrorKind::NotFound,
        );
        expect_err(
            h.gateway
                .admin_revoke_admin_key(&h.operator, "adk_missing")
                .await,
            ErrorKind::NotFound,
        );
        // The operator may revoke any instance's key.
        h.gateway
            .admin_revoke_admin_key(&h.operator, &globex_key.key.id)
            .await
            .expect("operator");
        expect_err(
            h.gateway.authenticate_admin(&globex_key.secret).await,
            ErrorKind::Unauthorized,
        );
    });
}
