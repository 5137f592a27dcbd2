//! Operator management of model configs: what would fail at call time is refused at save time
//! (bad ids, relative template endpoints, template providers without a mapping, fallbacks that do
//! not exist or make something else), a model others fall back to cannot be deleted or change
//! what it makes, and a model an instance's allow-list names cannot be deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::{Harness, expect_err, run};
use molts_core::domain::RegistrationMode;
use molts_core::domain::{Modality, ModelConfig, ModelFilter, ModelStatus, Provider};
use molts_core::gateway::{InstancePatch, ModelPatch};
use molts_core::{Error, ErrorKind};
use serde_json::json;

fn model(id: &str, provider: Provider, modality: Modality) -> ModelConfig {
    ModelConfig {
        id: id.to_owned(),
        provider,
        modality,
        provider_model: format!("{id}-upstream"),
        display_name: format!("Model {id}"),
        description: String::new(),
        capabilities: vec!["chat".to_owned()],
        pricing: json!({}),
        status: ModelStatus::Beta,
        enabled: true,
        payload_mapping: None,
        fallbacks: Vec::new(),
        alias: None,
        weight: 1,
        created_at: Default::default(),
        updated_at: Default::default(),
    }
}

fn template(id: &str, mapping: Option<serde_json::Value>) -> ModelConfig {
    ModelConfig {
        payload_mapping: mapping,
        ..model(id, Provider::Template, Modality::Image)
    }
}

async fn create(h: &Harness, m: ModelConfig) -> Result<ModelConfig, Error> {
    h.gateway.admin_create_model(&h.operator, m).await
}

async fn stored(h: &Harness, id: &str) -> Option<ModelConfig> {
    h.stores().models.get_model(id).await.expect("get")
}

#[track_caller]
fn assert_invalid(e: &Error, param: &str) {
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert_eq!(e.param(), Some(param), "{e}");
}

#[test]
fn a_valid_config_is_created_with_the_clocks_time() {
    run(async {
        let h = Harness::start().await;
        h.advance(Duration::minutes(7));
        let created = create(
            &h,
            model("my-llm", Provider::OpenaiCompatible, Modality::Text),
        )
        .await
        .expect("create");
        assert_eq!(
            created.created_at,
            common::start_time() + Duration::minutes(7)
        );
        assert_eq!(created.updated_at, created.created_at);
        assert_eq!(stored(&h, "my-llm").await, Some(created));
        expect_err(
            create(&h, model("my-llm", Provider::Openai, Modality::Text)).await,
            ErrorKind::Conflict,
        );
        let (_, principal) = h.agent("Ada").await;
        h.gateway
            .resolve_model(&principal.instance, "my-llm", Some(Modality::Text))
            .await
            .expect("usable at once");
    });
}

#[test]
fn basic_fields_are_validated() {
    run(async {
        let h = Harness::start().await;
        let base = || model("ok-id", Provider::Openai, Modality::Text);
        let cases = [
            (
                ModelConfig {
                    id: "openai:gpt-9".to_owned(),
                    ..base()
                },
                "id",
            ),
            (
                ModelConfig {
                    id: "Upper".to_owned(),
                    ..base()
                },
                "id",
            ),
            (
                ModelConfig {
                    display_name: "  ".to_owned(),
                    ..base()
                },
                "display_name",
            ),
            (
                ModelConfig {
                    provider_model: " ".to_owned(),
                    ..base()
                },
                "provider_model",
            ),
            (
                ModelConfig {
                    pricing: json!([1, 2]),
                    ..base()
                },
                "pricing",
            ),
        ];
        for (bad, param) in cases {
            let id = bad.id.clone();
            let e = create(&h, bad).await.expect_err("invalid");
            assert_invalid(&e, param);
            assert_eq!(stored(&h, &id).await, None);
        }
    });
}

#[test]
fn a_template_provider_needs_a_mapping_with_an_absolute_endpoint() {
    run(async {
        let h = Harness::start().await;
        let cases = [
            (template("t", None), "payload_mapping"),
            (
                template("t", Some(json!("https://x.test"))),
                "payload_mapping",
            ),
            (
                template("t", Some(json!({"body": {}}))),
                "payload_mapping.endpoint",
            ),
            (
                template("t", Some(json!({"endpoint": "/v1/generate"}))),
                "payload_mapping.endpoint",
            ),
            (
                template("t", Some(json!({"endpoint": "api.example.com/generate"}))),
                "payload_mapping.endpoint",
            ),
            (
                template("t", Some(json!({"endpoint": "ftp://files.test/x"}))),
                "payload_mapping.endpoint",
            ),
            (
                template("t", Some(json!({"endpoint": 42}))),
                "payload_mapping.endpoint",
            ),
            // Agents' values may fill the path or query, never where the request goes.
            (
                template(
                    "t",
                    Some(json!({"endpoint": "https://{region}.api.example.com/v1"})),
                ),
                "payload_mapping.endpoint",
            ),
            (
                template(
                    "t",
                    Some(json!({"endpoint": "https://api.example.com:{port}/v1"})),
                ),
                "payload_mapping.endpoint",
            ),
            (
                template(
                    "t",
                    Some(json!({"endpoint": "https://{who}@api.example.com/v1"})),
                ),
                "payload_mapping.endpoint",
            ),
        ];
        for (bad, param) in cases {
            let e = create(&h, bad).await.expect_err("invalid");
            assert_invalid(&e, param);
        }
        assert_eq!(stored(&h, "t").await, None);

        create(
            &h,
            template(
                "t",
                Some(json!({"endpoint": "https://api.example.com/v1/generate", "body": {}, "response_mapping": {"image_url": "$.data[0].url"}})),
            ),
        )
        .await
        .expect("an absolute https endpoint");
        for (id, endpoint) in [
            ("t-path", "https://api.example.com/v1/{model}/generate"),
            ("t-query", "https://api.example.com?version={version}"),
        ] {
            let mapping = json!({"endpoint": endpoint, "body": {},
                "response_mapping": {"image_url": "$.data[0].url"}});
            let created = create(&h, template(id, Some(mapping))).await;
            assert!(created.is_ok(), "{endpoint}: {created:?}");
        }
    });
}

#[test]
fn a_mapping_on_another_provider_is_optional_but_checked_when_present() {
    run(async {
        let h = Harness::start().await;
        let with_mapping = |mapping| ModelConfig {
            payload_mapping: Some(mapping),
            ..model("compat", Provider::OpenaiCompatible, Modality::Text)
        };
        let e = create(&h, with_mapping(json!({"endpoint": "/relative"})))
            .await
            .expect_err("relative");
        assert_invalid(&e, "payload_mapping.endpoint");
        create(&h, with_mapping(json!({"headers": {}})))
            .await
            .expect("no endpoint needed outside template");
    });
}

#[test]
fn fallbacks_must_exist_make_the_same_thing_and_not_loop_to_self() {
    run(async {
        let h = Harness::start().await;
        let with_fallbacks = |fallbacks: &[&str]| ModelConfig {
            fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
            alias: None,
            weight: 1,
            ..model("primary-video", Provider::Gemini, Modality::Video)
        };
        let e = create(&h, with_fallbacks(&["demo-video", "missing-model"]))
            .await
            .expect_err("missing");
        assert_invalid(&e, "fallbacks");
        assert!(e.message().contains("missing-model"));
        let e = create(&h, with_fallbacks(&["demo-image"]))
            .await
            .expect_err("other modality");
        assert_invalid(&e, "fallbacks");
        assert!(e.message().contains("image"));
        let e = create(&h, with_fallbacks(&["primary-video"]))
            .await
            .expect_err("itself");
        assert_invalid(&e, "fallbacks");
        assert_eq!(stored(&h, "primary-video").await, None);

        let created = create(&h, with_fallbacks(&["veo-3.1", "demo-video"]))
            .await
            .expect("same modality");
        assert_eq!(created.fallbacks, ["veo-3.1", "demo-video"]);
    });
}

#[test]
fn a_model_used_as_a_fallback_cannot_be_deleted() {
    run(async {
        let h = Harness::start().await;
        create(
            &h,
            ModelConfig {
                fallbacks: vec!["demo-video".to_owned()],
                alias: None,
                weight: 1,
                ..model("primary-video", Provider::Gemini, Modality::Video)
            },
        )
        .await
        .expect("create");
        let e = expect_err(
            h.gateway
                .admin_delete_model(&h.operator, "demo-video")
                .await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("primary-video"));
        assert!(stored(&h, "demo-video").await.is_some());

        h.gateway
            .admin_patch_model(
                &h.operator,
                "primary-video",
                ModelPatch {
                    fallbacks: Some(Vec::new()),
                    ..ModelPatch::default()
                },
            )
            .await
            .expect("drop the fallback");
        h.gateway
            .admin_delete_model(&h.operator, "demo-video")
            .await
            .expect("no longer used");
        assert_eq!(stored(&h, "demo-video").await, None);
        expect_err(
            h.gateway
                .admin_delete_model(&h.operator, "demo-video")
                .await,
            ErrorKind::NotFound,
        );
    });
}

#[test]
fn a_model_an_instance_allows_cannot_be_deleted_until_the_allow_list_drops_it() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        let allow = |models: Vec<&str>| InstancePatch {
            allowed_models: Some(Some(models.into_iter().map(str::to_owned).collect())),
            ..InstancePatch::default()
        };
        h.gateway
            .admin_update_instance(&h.operator, "acme", allow(vec!["demo-text", "demo-image"]))
            .await
            .expect("allow two models");

        let e = expect_err(
            h.gateway
                .admin_delete_model(&h.operator, "demo-image")
                .await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("acme"), "{}", e.message());
        assert!(e.message().contains("allowed_models"), "{}", e.message());
        assert!(stored(&h, "demo-image").await.is_some());

        h.gateway
            .admin_update_instance(&h.operator, "acme", allow(vec!["demo-text"]))
            .await
            .expect("drop it from the allow-list");
        h.gateway
            .admin_delete_model(&h.operator, "demo-image")
            .await
            .expect("no instance allows it now");
        assert_eq!(stored(&h, "demo-image").await, None);
    });
}

#[test]
fn a_model_used_as_a_fallback_cannot_change_modality() {
    run(async {
        let h = Harness::start().await;
        create(&h, model("backup", Provider::Demo, Modality::Video))
            .await
            .expect("backup");
        create(
            &h,
            ModelConfig {
                fallbacks: vec!["backup".to_owned()],
                alias: None,
                weight: 1,
                ..model("primary", Provider::Gemini, Modality::Video)
            },
        )
        .await
        .expect("primary");

        let e = expect_err(
            h.gateway
                .admin_replace_model(
                    &h.operator,
                    "backup",
                    model("backup", Provider::Demo, Modality::Image),
                )
                .await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("primary"), "{}", e.message());
        assert_eq!(
            stored(&h, "backup").await.map(|m| m.modality),
            Some(Modality::Video)
        );
        // Other changes to it are fine.
        h.gateway
            .admin_replace_model(
                &h.operator,
                "backup",
                ModelConfig {
                    display_name: "Renamed backup".to_owned(),
                    ..model("backup", Provider::Demo, Modality::Video)
                },
            )
            .await
            .expect("same modality");
    });
}

#[test]
fn replacing_keeps_creation_time_and_checks_the_id() {
    run(async {
        let h = Harness::start().await;
        create(&h, model("mine", Provider::Openai, Modality::Text))
            .await
            .expect("create");
        h.advance(Duration::hours(2));
        let replaced = h
            .gateway
            .admin_replace_model(
                &h.operator,
                "mine",
                ModelConfig {
                    provider_model: "gpt-4.1".to_owned(),
                    created_at: common::start_time() + Duration::days(40),
                    ..model("mine", Provider::Openai, Modality::Text)
                },
            )
            .await
            .expect("replace");
        assert_eq!(replaced.created_at, common::start_time());
        assert_eq!(
            replaced.updated_at,
            common::start_time() + Duration::hours(2)
        );
        assert_eq!(replaced.provider_model, "gpt-4.1");
        assert_eq!(stored(&h, "mine").await, Some(replaced));

        let e = expect_err(
            h.gateway
                .admin_replace_model(
                    &h.operator,
                    "mine",
                    model("other", Provider::Openai, Modality::Text),
                )
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("id"));
        expect_err(
            h.gateway
                .admin_replace_model(
                    &h.operator,
                    "absent",
                    model("absent", Provider::Openai, Modality::Text),
                )
                .await,
            ErrorKind::NotFound,
        );
        let e = expect_err(
            h.gateway
                .admin_replace_model(
                    &h.operator,
                    "mine",
                    ModelConfig {
                        fallbacks: vec!["nope".to_owned()],
                        alias: None,
                        weight: 1,
                        ..model("mine", Provider::Openai, Modality::Text)
                    },
                )
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("fallbacks"));
    });
}

#[test]
fn an_invalid_patch_changes_nothing() {
    run(async {
        let h = Harness::start().await;
        create(
            &h,
            template(
                "tmpl",
                Some(json!({"endpoint": "https://api.example.com/gen", "response_mapping": {"image_url": "$.data[0].url"}})),
            ),
        )
        .await
        .expect("create");
        let before = stored(&h, "tmpl").await;
        for patch in [
            ModelPatch {
                payload_mapping: Some(json!({"endpoint": "/gen"})),
                enabled: Some(false),
                ..ModelPatch::default()
            },
            ModelPatch {
                display_name: Some(String::new()),
                ..ModelPatch::default()
            },
            ModelPatch {
                pricing: Some(json!("free")),
                ..ModelPatch::default()
            },
            ModelPatch {
                fallbacks: Some(vec!["gpt-4o".to_owned()]),
                ..ModelPatch::default()
            },
        ] {
            expect_err(
                h.gateway
                    .admin_patch_model(&h.operator, "tmpl", patch)
                    .await,
                ErrorKind::Invalid,
            );
        }
        assert_eq!(stored(&h, "tmpl").await, before);
        expect_err(
            h.gateway
                .admin_patch_model(&h.operator, "absent", ModelPatch::default())
                .await,
            ErrorKind::NotFound,
        );
    });
}

#[test]
fn a_patch_changes_only_what_it_names() {
    run(async {
        let h = Harness::start().await;
        let before = h
            .gateway
            .admin_get_model(&h.operator, "dall-e-3")
            .await
            .expect("get");
        h.advance(Duration::minutes(1));
        let after = h
            .gateway
            .admin_patch_model(
                &h.operator,
                "dall-e-3",
                ModelPatch {
                    status: Some(ModelStatus::Deprecated),
                    fallbacks: Some(vec!["dall-e-2".to_owned()]),
                    ..ModelPatch::default()
                },
            )
            .await
            .expect("patch");
        assert_eq!(after.status, ModelStatus::Deprecated);
        assert_eq!(after.fallbacks, ["dall-e-2"]);
        assert_eq!(
            after.updated_at,
            common::start_time() + Duration::minutes(1)
        );
        assert_eq!(
            ModelConfig {
                status: before.status,
                fallbacks: before.fallbacks.clone(),
                alias: None,
                weight: 1,
                updated_at: before.updated_at,
                ..after.clone()
            },
            before
        );
        let deprecated = h
            .gateway
            .admin_list_models(
                &h.operator,
                &ModelFilter {
                    status: Some(ModelStatus::Deprecated),
                    ..ModelFilter::default()
                },
            )
            .await
            .expect("list");
        assert_eq!(deprecated.len(), 1);
        assert_eq!(deprecated[0].id, "dall-e-3");
    });
}
