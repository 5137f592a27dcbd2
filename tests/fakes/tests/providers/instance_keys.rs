//! Tenants' own provider keys over real HTTP: an instance with its own OpenAI key is served
//! with it while the operator's key is wrong, and other instances still use the operator's.

use molts_core::ErrorCode;
use std::sync::Arc;

use molts_core::domain::{NewAgent, Provider};
use molts_core::gateway::{NewInstance, ProviderKeyRequest};
use molts_core::memory::MemoryStore;
use molts_core::providers::http_registry;
use molts_core::sealed::SecretBox;
use molts_core::{ErrorKind, Gateway, GatewayConfig, Ports, Stores};
use molts_fakes::{FakeServer, key};
use molts_reqwest::ReqwestHttpClient;

use crate::common::chat;

#[tokio::test]
async fn an_instance_key_serves_that_instance_only() {
    let fake = FakeServer::start().await.unwrap();
    let mut vars = fake.env();
    vars.insert("OPENAI_API_KEY".into(), "operator-key-that-is-wrong".into());
    let http = Arc::new(ReqwestHttpClient::new().unwrap());
    let store = Arc::new(MemoryStore::new());
    let ports = Ports::with_stores(Stores::from_one(store.clone()));
    let gateway = Gateway::new(ports, GatewayConfig::default())
        .with_providers(http_registry(http, &|k| vars.get(k).cloned()))
        .with_secret_box(SecretBox::from_text(&"42".repeat(32)).unwrap());
    let token = gateway
        .bootstrap(None)
        .await
        .unwrap()
        .generated_admin_token
        .unwrap();
    let operator = gateway.authenticate_admin(&token).await.unwrap();
    let new_instance = NewInstance {
        id: "byok".into(),
        name: "Bring your own key".into(),
        registration: None,
        registration_token: None,
        default_tier: None,
        allowed_models: None,
        storage_bytes: None,
    };
    gateway
        .admin_create_instance(&operator, new_instance)
        .await
        .unwrap();
    let stored = gateway
        .admin_put_provider_key(
            &operator,
            "byok",
            Provider::Openai,
            ProviderKeyRequest {
                api_key: key("openai"),
                base_url: None,
            },
        )
        .await
        .unwrap();
    // Sealed at rest: the store holds no clear key.
    assert!(!stored.sealed_key.contains(&key("openai")));

    let agent_in = |instance: Option<&str>| NewAgent {
        name: "A".into(),
        instance: instance.map(str::to_owned),
        ..NewAgent::default()
    };
    let own = gateway
        .register_agent(agent_in(Some("byok")), None)
        .await
        .unwrap();
    let own = gateway.authenticate_agent(&own.key.secret).await.unwrap();
    let out = gateway
        .generate_text(&own, "gpt-4o-mini", chat("my key"))
        .await
        .unwrap();
    assert_eq!(out.output.text, "echo: my key");

    let plain = gateway.register_agent(agent_in(None), None).await.unwrap();
    let plain = gateway.authenticate_agent(&plain.key.secret).await.unwrap();
    let error = gateway
        .generate_text(&plain, "gpt-4o-mini", chat("operator key"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.code(), Some(ErrorCode::ProviderAuthFailed));
    assert!(
        !error.message().contains("operator-key-that-is-wrong"),
        "the key is redacted: {}",
        error.message()
    );

    // Removing the instance's key puts its agents back on the operator's (wrong) key at once.
    gateway
        .admin_delete_provider_key(&operator, "byok", Provider::Openai)
        .await
        .unwrap();
    let error = gateway
        .generate_text(&own, "gpt-4o-mini", chat("again"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::ProviderAuthFailed));
}
