//! Bootstrap: the first start seeds tiers, model configs and the default instance and makes one
//! operator key; every later start is a no-op; an operator-chosen token (`MOLTS_ADMIN_TOKEN`)
//! becomes an operator key once, and a short one is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{Harness, assert_generated_secret, assert_secret_not_in, expect_err, run, unbooted};
use molts_core::domain::{AdminScope, ModelFilter, RegistrationMode};
use molts_core::gateway::ModelPatch;
use molts_core::{ErrorKind, GatewayConfig, secret, seed};

const CHOSEN: &str = "operator-chosen-token-0123456789abcdef";

#[test]
fn first_start_seeds_tiers_models_and_default_instance() {
    run(async {
        let (gateway, _store, _clock) = unbooted(GatewayConfig::default(), common::start_time());
        let report = gateway.bootstrap(None).await.expect("bootstrap");
        assert_eq!(
            report.seeded,
            seed::tiers().len() + seed::models().len() + 1
        );
        assert_eq!(report.seeded, 3 + 21 + 1);

        let stores = gateway.stores();
        let tiers: Vec<String> = stores
            .tiers
            .list_tiers()
            .await
            .expect("tiers")
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(tiers, ["enterprise", "free", "pro"]);
        let models = stores
            .models
            .list_models(&ModelFilter::default())
            .await
            .expect("models");
        assert_eq!(models.len(), 21);
        assert!(models.iter().all(|m| m.enabled));
        assert!(models.iter().all(|m| m.created_at == common::start_time()));

        let default = stores
            .instances
            .get_instance("default")
            .await
            .expect("get")
            .expect("the default instance exists");
        assert_eq!(default.settings.registration, RegistrationMode::Open);
        assert_eq!(default.settings.default_tier, "free");
        assert_eq!(default.settings.allowed_models, None);
    });
}

#[test]
fn first_start_generates_one_operator_token_stored_only_as_a_hash() {
    run(async {
        let (gateway, _store, _clock) = unbooted(GatewayConfig::default(), common::start_time());
        let token = gateway
            .bootstrap(None)
            .await
            .expect("bootstrap")
            .generated_admin_token
            .expect("a token is generated on first start");
        assert_generated_secret(&token, "mla");
        assert_eq!(token.len(), 68);

        let admin = gateway.authenticate_admin(&token).await.expect("auth");
        assert_eq!(admin.scope, AdminScope::Operator);
        assert!(!admin.read_only);

        let keys = gateway
            .stores()
            .admin_keys
            .list_admin_keys()
            .await
            .expect("keys");
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        assert_eq!(key.id, admin.key_id);
        assert_eq!(key.hash, secret::hash(&token));
        assert_eq!(key.prefix, &token[..secret::LOOKUP_PREFIX_LEN]);
        assert_secret_not_in(&token, &[&key.id, &key.name, &key.prefix, &key.hash]);
    });
}

#[test]
fn bootstrapping_again_seeds_nothing_and_generates_no_second_token() {
    run(async {
        let h = Harness::start().await;
        h.advance(Duration::hours(5));
        let again = h.gateway.bootstrap(None).await.expect("second bootstrap");
        assert_eq!(again.seeded, 0);
        assert_eq!(again.generated_admin_token, None);
        let third = h.gateway.bootstrap(None).await.expect("third bootstrap");
        assert_eq!(third.seeded, 0);
        assert_eq!(third.generated_admin_token, None);

        let keys = h.stores().admin_keys.list_admin_keys().await.expect("keys");
        assert_eq!(keys.len(), 1, "no second operator key");
        // Seeded rows were not rewritten.
        let free = h.stores().tiers.get_tier("free").await.expect("get");
        assert_eq!(free.map(|t| t.created_at), Some(common::start_time()));
        // The first token still works.
        h.gateway
            .authenticate_admin(&h.operator_token)
            .await
            .expect("still valid");
    });
}

#[test]
fn bootstrapping_again_keeps_the_operators_changes_to_seeded_rows() {
    run(async {
        let h = Harness::start().await;
        h.gateway
            .admin_patch_model(
                &h.operator,
                "gpt-4o",
                ModelPatch {
                    enabled: Some(false),
                    ..ModelPatch::default()
                },
            )
            .await
            .expect("disable");
        let mut free = h
            .gateway
            .admin_get_tier(&h.operator, "free")
            .await
            .expect("free");
        free.requests_per_minute = Some(5);
        h.gateway
            .admin_replace_tier(&h.operator, "free", free)
            .await
            .expect("replace");

        assert_eq!(h.gateway.bootstrap(None).await.expect("again").seeded, 0);

        let gpt = h.gateway.admin_get_model(&h.operator, "gpt-4o").await;
        assert!(
            !gpt.expect("gpt-4o").enabled,
            "bootstrap re-enabled a model"
        );
        let free = h.gateway.admin_get_tier(&h.operator, "free").await;
        assert_eq!(free.expect("free").requests_per_minute, Some(5));
    });
}

#[test]
fn a_chosen_token_becomes_an_operator_key_once() {
    run(async {
        let (gateway, _store, _clock) = unbooted(GatewayConfig::default(), common::start_time());
        let report = gateway.bootstrap(Some(CHOSEN)).await.expect("bootstrap");
        assert_eq!(report.generated_admin_token, None);
        assert_eq!(report.seeded, 25);

        let admin = gateway.authenticate_admin(CHOSEN).await.expect("auth");
        assert_eq!(admin.scope, AdminScope::Operator);
        assert!(!admin.read_only);

        for _ in 0..2 {
            let again = gateway.bootstrap(Some(CHOSEN)).await.expect("again");
            assert_eq!(again.generated_admin_token, None);
            assert_eq!(again.seeded, 0);
        }
        // A start without the variable does not generate one either: an operator exists.
        let without = gateway.bootstrap(None).await.expect("without token");
        assert_eq!(without.generated_admin_token, None);

        let keys = gateway
            .stores()
            .admin_keys
            .list_admin_keys()
            .await
            .expect("keys");
        assert_eq!(keys.len(), 1, "the chosen token is stored once");
        assert_eq!(keys[0].hash, secret::hash(CHOSEN));
        assert_secret_not_in(CHOSEN, &[&keys[0].id, &keys[0].name, &keys[0].hash]);
    });
}

#[test]
fn a_chosen_token_is_added_next_to_a_generated_one() {
    run(async {
        let h = Harness::start().await;
        let report = h.gateway.bootstrap(Some(CHOSEN)).await.expect("bootstrap");
        assert_eq!(report.generated_admin_token, None);
        let chosen = h.gateway.authenticate_admin(CHOSEN).await.expect("chosen");
        assert_eq!(chosen.scope, AdminScope::Operator);
        h.gateway
            .authenticate_admin(&h.operator_token)
            .await
            .expect("the generated token still works");
    });
}

#[test]
fn a_short_or_spaced_chosen_token_is_refused_and_stores_no_key() {
    run(async {
        let (gateway, _store, _clock) = unbooted(GatewayConfig::default(), common::start_time());
        let thirty_one = "a".repeat(31);
        for bad in [
            "short",
            thirty_one.as_str(),
            "has spaces but is otherwise long enough",
        ] {
            let e = expect_err(gateway.bootstrap(Some(bad)).await, ErrorKind::Invalid);
            assert_eq!(e.param(), Some("token"));
            expect_err(
                gateway.authenticate_admin(bad).await,
                ErrorKind::Unauthorized,
            );
        }
        let keys = gateway.stores().admin_keys.list_admin_keys().await;
        assert!(keys.expect("keys").is_empty());

        // Exactly the minimum length is enough.
        let thirty_two = "b".repeat(32);
        gateway
            .bootstrap(Some(&thirty_two))
            .await
            .expect("32 characters");
        gateway
            .authenticate_admin(&thirty_two)
            .await
            .expect("authenticates");
    });
}

#[test]
fn a_token_is_generated_again_only_when_no_live_writable_operator_key_is_left() {
    run(async {
        let h = Harness::start().await;
        // A second operator key that expires, and a read-only operator key that does not.
        h.issue_admin_key(None, false, Some(1)).await;
        h.issue_admin_key(None, true, None).await;
        h.gateway
            .admin_revoke_admin_key(&h.operator, &h.operator.key_id)
            .await
            .expect("not the last live operator key yet");

        let report = h.gateway.bootstrap(None).await.expect("bootstrap");
        assert_eq!(
            report.generated_admin_token, None,
            "the expiring key is live"
        );

        h.advance(Duration::days(2));
        let report = h.gateway.bootstrap(None).await.expect("bootstrap");
        let fresh = report
            .generated_admin_token
            .expect("only a read-only operator key is left, so a token is generated");
        let admin = h.gateway.authenticate_admin(&fresh).await.expect("auth");
        assert_eq!(admin.scope, AdminScope::Operator);
        assert!(!admin.read_only);
    });
}

#[test]
fn a_configured_default_instance_is_seeded_and_joined_by_registrations() {
    run(async {
        let config = GatewayConfig {
            default_instance: "main".to_owned(),
            ..GatewayConfig::default()
        };
        let h = Harness::start_with(config, common::start_time()).await;
        let instances = h.stores().instances.list_instances().await.expect("list");
        let ids: Vec<&str> = instances.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["main"]);

        let registered = h.register("Ada").await;
        assert_eq!(registered.agent.instance_id, "main");

        let e = expect_err(
            h.gateway.admin_delete_instance(&h.operator, "main").await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("default"));
    });
}

#[test]
fn a_deleted_seed_tier_or_model_stays_deleted() {
    run(async {
        let h = Harness::start().await;
        let g = &h.gateway;
        g.admin_delete_tier(&h.operator, "enterprise")
            .await
            .expect("delete tier");
        g.admin_delete_model(&h.operator, "dall-e-2")
            .await
            .expect("delete model");
        let report = g.bootstrap(None).await.expect("restart");
        assert_eq!(report.seeded, 0);
        assert!(
            g.stores()
                .tiers
                .get_tier("enterprise")
                .await
                .expect("get")
                .is_none()
        );
        assert!(
            g.stores()
                .models
                .get_model("dall-e-2")
                .await
                .expect("get")
                .is_none()
        );
    });
}

#[test]
fn a_revoked_env_token_stays_revoked_and_a_changed_one_replaces_it() {
    run(async {
        let (gateway, _store, _clock) = unbooted(GatewayConfig::default(), common::start_time());
        gateway.bootstrap(Some(CHOSEN)).await.expect("first");
        let first = gateway.authenticate_admin(CHOSEN).await.expect("auth");

        // The operator rotates the variable: the new token works, the old one stops.
        const NEXT: &str = "operator-rotated-token-abcdef0123456789";
        gateway.bootstrap(Some(NEXT)).await.expect("rotated");
        gateway
            .authenticate_admin(NEXT)
            .await
            .expect("new token works");
        expect_err(
            gateway.authenticate_admin(CHOSEN).await,
            ErrorKind::Unauthorized,
        );

        // Revoked by an admin, the token does not come back by being set again.
        let next = gateway.authenticate_admin(NEXT).await.expect("auth");
        gateway
            .admin_create_admin_key(
                &next,
                molts_core::gateway::AdminKeyRequest {
                    name: "spare".into(),
                    ..Default::default()
                },
            )
            .await
            .expect("spare operator key");
        gateway
            .admin_revoke_admin_key(&next, &next.key_id)
            .await
            .expect("revoke");
        let report = gateway.bootstrap(Some(NEXT)).await.expect("restart");
        assert!(report.admin_token_revoked);
        expect_err(
            gateway.authenticate_admin(NEXT).await,
            ErrorKind::Unauthorized,
        );
        assert_ne!(first.key_id, next.key_id);
    });
}
