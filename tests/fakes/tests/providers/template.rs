//! The template provider over real HTTP: a model config that describes a call to the fake's
//! OpenAI endpoint, run through the gateway. Lone placeholders keep their JSON types, `{api_key}`
//! comes from `key_from`, and a missing value is a 400 that sends nothing upstream.

use std::sync::Arc;

use molts_core::domain::{Modality, ModelConfig, Provider, Unit};
use molts_core::gateway::ModelPatch;
use molts_core::providers::http_registry;
use molts_core::{ErrorKind, Gateway, GatewayConfig, Ports};
use molts_fakes::FakeServer;
use molts_reqwest::ReqwestHttpClient;
use serde_json::json;

use crate::common::chat;

fn template(fake: &FakeServer, body_prompt: &str) -> ModelConfig {
    ModelConfig {
        id: "echo-template".into(),
        provider: Provider::Template,
        modality: Modality::Text,
        provider_model: "gpt-4o-mini".into(),
        display_name: "Echo through a template".into(),
        description: String::new(),
        capabilities: vec![],
        pricing: json!({}),
        status: molts_core::domain::ModelStatus::Beta,
        enabled: true,
        payload_mapping: Some(json!({
            "endpoint": format!("{}/chat/completions", fake.base_url("openai")),
            "method": "POST",
            "headers": {"Authorization": "Bearer {api_key}"},
            "body": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": body_prompt}],
                "max_tokens": "{max_tokens}",
                "temperature": "{temperature}"
            },
            "defaults": {"max_tokens": 64, "temperature": 0.5},
            "response_mapping": {
                "text": "$.choices[0].message.content",
                "prompt_tokens": "$.usage.prompt_tokens",
                "completion_tokens": "$.usage.completion_tokens"
            },
            "key_from": "openai"
        })),
        fallbacks: vec![],
        alias: None,
        weight: 1,
        created_at: Default::default(),
        updated_at: Default::default(),
    }
}

async fn gateway(fake: &FakeServer) -> (Gateway, molts_core::gateway::AdminPrincipal) {
    let vars = fake.env();
    let http = Arc::new(ReqwestHttpClient::new().unwrap());
    let ports = Ports::in_memory();
    let gateway = Gateway::new(ports, GatewayConfig::default())
        .with_providers(http_registry(http, &|k| vars.get(k).cloned()));
    let token = gateway
        .bootstrap(None)
        .await
        .unwrap()
        .generated_admin_token
        .unwrap();
    let admin = gateway.authenticate_admin(&token).await.unwrap();
    (gateway, admin)
}

async fn agent(gateway: &Gateway) -> molts_core::gateway::AgentPrincipal {
    let new = molts_core::domain::NewAgent {
        name: "T".into(),
        ..Default::default()
    };
    let registered = gateway.register_agent(new, None).await.unwrap();
    gateway
        .authenticate_agent(&registered.key.secret)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_template_model_calls_the_described_endpoint_with_typed_values() {
    let fake = FakeServer::start().await.unwrap();
    let (gateway, admin) = gateway(&fake).await;
    gateway
        .admin_create_model(&admin, template(&fake, "{prompt}"))
        .await
        .unwrap();
    let agent = agent(&gateway).await;

    let mut request = chat("through a template");
    request.temperature = None; // absent: the default 0.5 stays
    let out = gateway
        .generate_text(&agent, "echo-template", request)
        .await
        .unwrap();
    assert_eq!(out.output.text, "echo: through a template");
    let sent = fake.requests("openai");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body["max_tokens"],
        json!(64),
        "a number stays a number"
    );
    assert_eq!(sent[0].body["temperature"], json!(0.5));
    assert_eq!(
        sent[0].body["messages"][0]["content"],
        json!("through a template")
    );
    // Charged with the provider's own count, read through response_mapping.
    let usage = gateway.usage(&agent).await.unwrap();
    assert_eq!(
        usage.unit(Unit::TextToken).unwrap().month.used,
        out.output.usage.total()
    );
}

#[tokio::test]
async fn a_missing_value_is_a_400_and_nothing_is_sent() {
    let fake = FakeServer::start().await.unwrap();
    let (gateway, admin) = gateway(&fake).await;
    gateway
        .admin_create_model(&admin, template(&fake, "{prompt} in {language}"))
        .await
        .unwrap();
    let agent = agent(&gateway).await;
    let error = gateway
        .generate_text(&agent, "echo-template", chat("hi"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert_eq!(error.param(), Some("language"));
    assert!(
        fake.requests("openai").is_empty(),
        "no literal placeholder went upstream"
    );
    let usage = gateway.usage(&agent).await.unwrap();
    assert_eq!(
        usage.unit(Unit::TextToken).unwrap().month.used,
        0,
        "refunded"
    );

    // A relative endpoint is refused when saved.
    let patch = ModelPatch {
        payload_mapping: Some(
            json!({"endpoint": "/chat/completions", "response_mapping": {"text": "$.x"}}),
        ),
        ..Default::default()
    };
    let error = gateway
        .admin_patch_model(&admin, "echo-template", patch)
        .await
        .unwrap_err();
    assert_eq!(error.param(), Some("payload_mapping.endpoint"));
}
