//! What an agent may use: listing models (enabled ones its instance allows) and resolving a
//! request's `model` by config id or the legacy `provider:model` form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, expect_err, new_agent_in, run};
use molts_core::ErrorCode;
use molts_core::domain::{Instance, Modality, Provider, RegistrationMode};
use molts_core::gateway::{AgentPrincipal, InstancePatch, ModelPatch};
use molts_core::{Error, ErrorKind};

async fn disable(h: &Harness, id: &str) {
    h.gateway
        .admin_patch_model(
            &h.operator,
            id,
            ModelPatch {
                enabled: Some(false),
                ..ModelPatch::default()
            },
        )
        .await
        .expect("disable");
}

/// An agent on a new instance allowed only `models`.
async fn restricted_agent(h: &Harness, models: &[&str]) -> AgentPrincipal {
    h.instance("narrow", RegistrationMode::Open, None).await;
    h.gateway
        .admin_update_instance(
            &h.operator,
            "narrow",
            InstancePatch {
                allowed_models: Some(Some(models.iter().map(|m| (*m).to_owned()).collect())),
                ..InstancePatch::default()
            },
        )
        .await
        .expect("allow-list");
    let registered = h
        .gateway
        .register_agent(new_agent_in("Narrow", "narrow"), None)
        .await
        .expect("register");
    h.login(&registered.key.secret).await
}

fn ids(models: &[molts_core::domain::ModelConfig]) -> Vec<&str> {
    models.iter().map(|m| m.id.as_str()).collect()
}

#[track_caller]
fn assert_model_not_found(e: &Error) {
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.code(), Some(ErrorCode::ModelNotFound));
    assert_eq!(e.param(), Some("model"));
}

async fn resolve_err(
    h: &Harness,
    instance: &Instance,
    requested: &str,
    modality: Option<Modality>,
) -> Error {
    h.gateway
        .resolve_model(instance, requested, modality)
        .await
        .expect_err("the model should not resolve")
}

#[test]
fn an_agent_lists_every_enabled_model_or_one_modality() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let all = h
            .gateway
            .list_models_for(&principal, None)
            .await
            .expect("list");
        assert_eq!(all.len(), 21);
        let video = h
            .gateway
            .list_models_for(&principal, Some(Modality::Video))
            .await
            .expect("list");
        assert_eq!(
            ids(&video),
            ["demo-video", "heygen-avatar", "tavus-replica", "veo-3.1"]
        );
        assert!(video.iter().all(|m| m.modality == Modality::Video));
    });
}

#[test]
fn disabled_models_are_hidden_and_refused() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        disable(&h, "gpt-4o").await;
        let text = h
            .gateway
            .list_models_for(&principal, Some(Modality::Text))
            .await
            .expect("list");
        assert!(!ids(&text).contains(&"gpt-4o"));
        assert!(ids(&text).contains(&"gpt-4o-mini"));

        for requested in ["gpt-4o", "openai:gpt-4o"] {
            let e = resolve_err(&h, &principal.instance, requested, None).await;
            assert_model_not_found(&e);
        }
        // Operators still see it.
        let all = h
            .gateway
            .admin_list_models(&h.operator, &Default::default())
            .await
            .expect("admin list");
        assert!(ids(&all).contains(&"gpt-4o"));
    });
}

#[test]
fn a_model_resolves_by_config_id() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let m = h
            .gateway
            .resolve_model(&principal.instance, "veo-3.1", Some(Modality::Video))
            .await
            .expect("resolve");
        assert_eq!(m.id, "veo-3.1");
        assert_eq!(m.provider, Provider::Gemini);
        let m = h
            .gateway
            .resolve_model(&principal.instance, "demo-image", None)
            .await
            .expect("resolve without modality");
        assert_eq!(m.modality, Modality::Image);
    });
}

#[test]
fn the_legacy_provider_model_form_resolves() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        let cases = [
            ("openai:gpt-4o", "gpt-4o"),
            ("openai:gpt-4o-mini", "gpt-4o-mini"),
            ("openai:dall-e-3", "dall-e-3"),
            // By the provider's own model name...
            ("ideogram:V_2", "ideogram-v2"),
            ("anthropic:claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
            // ...or by the config id behind the provider.
            ("ideogram:ideogram-v2", "ideogram-v2"),
            ("gemini:veo-3.1", "veo-3.1"),
        ];
        for (requested, expected) in cases {
            let m = h
                .gateway
                .resolve_model(&principal.instance, requested, None)
                .await
                .expect(requested);
            assert_eq!(m.id, expected, "{requested}");
        }
    });
}

#[test]
fn unknown_models_and_mismatched_providers_are_not_found() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        for requested in [
            "gpt-5",
            "",
            "openai:",
            ":gpt-4o",
            "nope:gpt-4o",
            "anthropic:gpt-4o",
            "openai:V_2",
            "OpenAI:gpt-4o",
        ] {
            let e = resolve_err(&h, &principal.instance, requested, None).await;
            assert_model_not_found(&e);
        }
    });
}

#[test]
fn the_wrong_modality_is_invalid() {
    run(async {
        let h = Harness::start().await;
        let (_, principal) = h.agent("Ada").await;
        for requested in ["gpt-4o", "openai:gpt-4o"] {
            let e = resolve_err(&h, &principal.instance, requested, Some(Modality::Image)).await;
            assert_eq!(e.kind(), ErrorKind::Invalid);
            assert_eq!(e.param(), Some("model"));
            assert!(e.message().contains("text"), "{}", e.message());
        }
        // An unknown model is still NotFound whatever the modality.
        let e = resolve_err(&h, &principal.instance, "gpt-5", Some(Modality::Image)).await;
        assert_model_not_found(&e);
    });
}

#[test]
fn an_instance_allow_list_hides_other_models() {
    run(async {
        let h = Harness::start().await;
        let principal = restricted_agent(&h, &["demo-text", "gpt-4o", "veo-3.1"]).await;
        let listed = h
            .gateway
            .list_models_for(&principal, None)
            .await
            .expect("list");
        assert_eq!(ids(&listed), ["demo-text", "gpt-4o", "veo-3.1"]);
        let text = h
            .gateway
            .list_models_for(&principal, Some(Modality::Text))
            .await
            .expect("list");
        assert_eq!(ids(&text), ["demo-text", "gpt-4o"]);

        h.gateway
            .resolve_model(&principal.instance, "openai:gpt-4o", None)
            .await
            .expect("allowed");
        for requested in [
            "gpt-4o-mini",
            "openai:gpt-4o-mini",
            "dall-e-3",
            "demo-image",
        ] {
            let e = resolve_err(&h, &principal.instance, requested, None).await;
            assert_model_not_found(&e);
        }

        // An allowed model that is disabled is still refused.
        disable(&h, "veo-3.1").await;
        let e = resolve_err(&h, &principal.instance, "veo-3.1", None).await;
        assert_model_not_found(&e);
        let listed = h
            .gateway
            .list_models_for(&principal, None)
            .await
            .expect("list");
        assert_eq!(ids(&listed), ["demo-text", "gpt-4o"]);

        // Agents elsewhere are unaffected by another instance's allow-list.
        let (_, everyone) = h.agent("Default agent").await;
        h.gateway
            .resolve_model(&everyone.instance, "gpt-4o-mini", None)
            .await
            .expect("the default instance allows everything");
    });
}

#[test]
fn lifting_the_allow_list_shows_every_model_again() {
    run(async {
        let h = Harness::start().await;
        restricted_agent(&h, &["demo-text"]).await;
        let instance = h
            .gateway
            .admin_update_instance(
                &h.operator,
                "narrow",
                InstancePatch {
                    allowed_models: Some(None),
                    ..InstancePatch::default()
                },
            )
            .await
            .expect("lift");
        assert_eq!(instance.settings.allowed_models, None);
        h.gateway
            .resolve_model(&instance, "dall-e-3", Some(Modality::Image))
            .await
            .expect("no allow-list");
    });
}

#[test]
fn an_allow_list_must_name_existing_models() {
    run(async {
        let h = Harness::start().await;
        h.instance("narrow", RegistrationMode::Open, None).await;
        let e = expect_err(
            h.gateway
                .admin_update_instance(
                    &h.operator,
                    "narrow",
                    InstancePatch {
                        allowed_models: Some(Some(vec!["gpt-4o".to_owned(), "gpt-5".to_owned()])),
                        ..InstancePatch::default()
                    },
                )
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("allowed_models"));
        let instance = h
            .gateway
            .admin_get_instance(&h.operator, "narrow")
            .await
            .expect("get");
        assert_eq!(instance.settings.allowed_models, None, "nothing changed");
    });
}
