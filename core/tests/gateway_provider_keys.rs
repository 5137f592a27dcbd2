//! Tenants' own provider keys through the gateway: refused clearly without a sealing key,
//! sealed (never stored or shown in clear) with one, scoped to the instance, removed with it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, expect_err, run};
use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::{Provider, RegistrationMode};
use molts_core::gateway::ProviderKeyRequest;
use molts_core::sealed::SecretBox;

const KEY: &str = "sk-tenant-own-key-0042";

fn request() -> ProviderKeyRequest {
    ProviderKeyRequest {
        api_key: KEY.to_owned(),
        base_url: None,
    }
}

#[test]
fn without_a_sealing_key_nothing_is_stored() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        let e = expect_err(
            h.gateway
                .admin_put_provider_key(&h.operator, "acme", Provider::Openai, request())
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.code(), Some(ErrorCode::SecretKeyNotConfigured));
        assert!(
            h.stores()
                .provider_keys
                .list_provider_keys("acme")
                .await
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn keys_are_sealed_scoped_and_go_with_their_instance() {
    run(async {
        let mut h = Harness::start().await;
        h.gateway = h
            .gateway
            .clone()
            .with_secret_box(SecretBox::from_text(&"11".repeat(32)).unwrap());
        h.instance("acme", RegistrationMode::Open, None).await;
        h.instance("globex", RegistrationMode::Open, None).await;
        let acme = h.admin(Some("acme"), false).await;
        let globex = h.admin(Some("globex"), false).await;

        let stored = h
            .gateway
            .admin_put_provider_key(&acme, "acme", Provider::Openai, request())
            .await
            .unwrap();
        assert_eq!(stored.key_hint, "…0042");
        assert!(!stored.sealed_key.contains(KEY) && !stored.sealed_key.contains("tenant-own"));
        assert!(
            !serde_json::to_string(&stored).unwrap().contains("sealed"),
            "the sealed key is not serialized"
        );

        expect_err(
            h.gateway.admin_list_provider_keys(&globex, "acme").await,
            ErrorKind::NotFound,
        );
        expect_err(
            h.gateway
                .admin_put_provider_key(&globex, "acme", Provider::Openai, request())
                .await,
            ErrorKind::NotFound,
        );
        expect_err(
            h.gateway
                .admin_put_provider_key(&acme, "acme", Provider::Demo, request())
                .await,
            ErrorKind::Invalid,
        );
        let short = ProviderKeyRequest {
            api_key: "short".into(),
            base_url: None,
        };
        expect_err(
            h.gateway
                .admin_put_provider_key(&acme, "acme", Provider::Openai, short)
                .await,
            ErrorKind::Invalid,
        );

        // Deleting is refused while acme's admin key lives; revoke it, then the keys go too.
        expect_err(
            h.gateway.admin_delete_instance(&h.operator, "acme").await,
            ErrorKind::Conflict,
        );
        h.gateway
            .admin_revoke_admin_key(&h.operator, &acme.key_id)
            .await
            .unwrap();
        h.gateway
            .admin_delete_instance(&h.operator, "acme")
            .await
            .unwrap();
        assert!(
            h.stores()
                .provider_keys
                .list_provider_keys("acme")
                .await
                .unwrap()
                .is_empty()
        );
    });
}

/// A tenant's base URL is reached from inside the operator's network: an instance admin may not
/// point it at loopback, private, link-local or internal hosts; the operator may (a local model
/// server is theirs to choose).
#[test]
fn a_tenant_cannot_point_its_provider_at_internal_hosts() {
    run(async {
        let mut h = Harness::start().await;
        h.gateway = h
            .gateway
            .clone()
            .with_secret_box(SecretBox::from_text(&"11".repeat(32)).unwrap());
        h.instance("acme", RegistrationMode::Open, None).await;
        let acme = h.admin(Some("acme"), false).await;
        let with_base = |url: &str| ProviderKeyRequest {
            api_key: KEY.to_owned(),
            base_url: Some(url.to_owned()),
        };
        for internal in [
            "http://169.254.169.254/latest",
            "http://127.0.0.1:11434/v1",
            "http://[::1]/v1",
            "http://10.0.0.5/v1",
            "http://localhost:8080/v1",
            "http://metadata.google.internal/v1",
        ] {
            let err = h
                .gateway
                .admin_put_provider_key(&acme, "acme", Provider::Openai, with_base(internal))
                .await
                .expect_err(internal);
            assert_eq!(err.kind(), ErrorKind::Invalid, "{internal}");
            assert_eq!(err.code(), Some(ErrorCode::BaseUrlRefused), "{internal}");
        }
        let public = h
            .gateway
            .admin_put_provider_key(
                &acme,
                "acme",
                Provider::Openai,
                with_base("https://proxy.example.com/v1"),
            )
            .await
            .unwrap();
        assert_eq!(
            public.base_url.as_deref(),
            Some("https://proxy.example.com/v1")
        );
        let operator = h.operator.clone();
        h.gateway
            .admin_put_provider_key(
                &operator,
                "acme",
                Provider::Openai,
                with_base("http://127.0.0.1:11434/v1"),
            )
            .await
            .unwrap();
    });
}
