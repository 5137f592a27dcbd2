//! Agents managing their own API keys: creating (shown once, hashed at rest, bounded lifetime and
//! count), listing without secrets, and revoking only their own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{Harness, assert_generated_secret, assert_secret_not_in, expect_err, run};
use molts_core::ErrorCode;
use molts_core::gateway::NewKeyRequest;
use molts_core::{ErrorKind, secret};

#[test]
fn a_new_key_is_shown_once_and_stored_as_a_hash() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        let issued = h
            .gateway
            .create_own_key(
                &principal,
                NewKeyRequest {
                    name: Some("  ci runner ".to_owned()),
                    expires_in_days: None,
                },
            )
            .await
            .expect("create");
        assert_generated_secret(&issued.secret, "ml");
        assert_eq!(issued.key.name, "ci runner");
        assert_eq!(issued.key.agent_id, registered.agent.id);
        assert_eq!(issued.key.instance_id, "default");
        assert_eq!(issued.key.expires_at, None);
        assert_ne!(issued.secret, registered.key.secret);

        let listed = h.gateway.list_own_keys(&principal).await.expect("list");
        assert_eq!(listed.len(), 2);
        let stored = listed
            .iter()
            .find(|k| k.id == issued.key.id)
            .expect("listed");
        assert_eq!(stored.hash, secret::hash(&issued.secret));
        for key in &listed {
            for clear in [&issued.secret, &registered.key.secret] {
                assert_secret_not_in(
                    clear,
                    &[&key.id, &key.name, &key.prefix, &key.hash, &key.agent_id],
                );
            }
            let json = serde_json::to_string(key).expect("json");
            assert!(!json.contains(&key.hash), "the hash is never serialized");
        }
        assert_eq!(h.login(&issued.secret).await.key_id, issued.key.id);
    });
}

#[test]
fn the_default_key_name_is_key_and_names_are_validated() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let issued = h
            .gateway
            .create_own_key(&principal, NewKeyRequest::default())
            .await
            .expect("create");
        assert_eq!(issued.key.name, "key");
        for bad in ["   ", "tab\there"] {
            let e = expect_err(
                h.gateway
                    .create_own_key(
                        &principal,
                        NewKeyRequest {
                            name: Some(bad.to_owned()),
                            expires_in_days: None,
                        },
                    )
                    .await,
                ErrorKind::Invalid,
            );
            assert_eq!(e.param(), Some("name"));
        }
    });
}

#[test]
fn a_keys_lifetime_is_between_one_day_and_ten_years() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let with_days = |days| NewKeyRequest {
            name: None,
            expires_in_days: Some(days),
        };
        for bad in [0, 3651, u32::MAX] {
            let e = expect_err(
                h.gateway.create_own_key(&principal, with_days(bad)).await,
                ErrorKind::Invalid,
            );
            assert_eq!(e.param(), Some("expires_in_days"));
        }
        let longest = h
            .gateway
            .create_own_key(&principal, with_days(3650))
            .await
            .expect("ten years");
        assert_eq!(
            longest.key.expires_at,
            Some(common::start_time() + Duration::days(3650))
        );
        let listed = h.gateway.list_own_keys(&principal).await.expect("list");
        assert_eq!(listed.len(), 2, "refused requests stored nothing");
    });
}

#[test]
fn an_agent_holds_at_most_fifty_live_keys() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let mut last = None;
        for _ in 1..50 {
            last = Some(
                h.gateway
                    .create_own_key(&principal, NewKeyRequest::default())
                    .await
                    .expect("under the cap"),
            );
        }
        let e = expect_err(
            h.gateway
                .create_own_key(&principal, NewKeyRequest::default())
                .await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("50"));

        let last = last.expect("made some");
        h.gateway
            .revoke_own_key(&principal, &last.key.id)
            .await
            .expect("revoke");
        h.gateway
            .create_own_key(&principal, NewKeyRequest::default())
            .await
            .expect("a revoked key frees a slot");
        expect_err(
            h.gateway
                .create_own_key(&principal, NewKeyRequest::default())
                .await,
            ErrorKind::Conflict,
        );
    });
}

#[test]
fn expired_keys_do_not_count_against_the_cap() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        for _ in 1..50 {
            h.gateway
                .create_own_key(
                    &principal,
                    NewKeyRequest {
                        name: None,
                        expires_in_days: Some(1),
                    },
                )
                .await
                .expect("under the cap");
        }
        expect_err(
            h.gateway
                .create_own_key(&principal, NewKeyRequest::default())
                .await,
            ErrorKind::Conflict,
        );
        h.advance(Duration::days(1));
        h.gateway
            .create_own_key(&principal, NewKeyRequest::default())
            .await
            .expect("the expired keys are not live");
    });
}

#[test]
fn listing_shows_revoked_keys_with_their_revocation_time() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        let second = h
            .gateway
            .create_own_key(&principal, NewKeyRequest::default())
            .await
            .expect("create");
        h.advance(Duration::minutes(5));
        h.gateway
            .revoke_own_key(&principal, &registered.key.key.id)
            .await
            .expect("revoke");
        let listed = h.gateway.list_own_keys(&principal).await.expect("list");
        let ids: Vec<&str> = listed.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(
            ids,
            [registered.key.key.id.as_str(), second.key.id.as_str()]
        );
        assert_eq!(
            listed[0].revoked_at,
            Some(common::start_time() + Duration::minutes(5))
        );
        assert_eq!(listed[1].revoked_at, None);
    });
}

#[test]
fn an_agent_cannot_see_or_revoke_another_agents_keys() {
    run(async {
        let h = Harness::start().await;
        let (ada, ada_principal) = h.agent("Ada").await;
        let (bob, bob_principal) = h.agent("Bob").await;

        let ada_keys = h.gateway.list_own_keys(&ada_principal).await.expect("list");
        assert_eq!(ada_keys.len(), 1);
        assert!(ada_keys.iter().all(|k| k.agent_id == ada.agent.id));

        let e = expect_err(
            h.gateway
                .revoke_own_key(&ada_principal, &bob.key.key.id)
                .await,
            ErrorKind::NotFound,
        );
        assert_eq!(e.code(), Some(ErrorCode::NotFound));
        assert_eq!(h.login(&bob.key.secret).await.agent.id, bob.agent.id);
        let bob_keys = h.gateway.list_own_keys(&bob_principal).await.expect("list");
        assert_eq!(bob_keys[0].revoked_at, None);

        expect_err(
            h.gateway
                .revoke_own_key(&ada_principal, "key_missing")
                .await,
            ErrorKind::NotFound,
        );
    });
}
