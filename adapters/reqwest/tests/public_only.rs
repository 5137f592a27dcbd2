//! The public-only client over real HTTP, against a loopback server and an injected name lookup
//! (no DNS, no network beyond 127.0.0.1): a public-looking name resolving to loopback, an
//! internal IP literal and an internal name are refused before any byte is sent unless
//! allow-listed; through the gateway, a tenant's own base URL resolving to loopback is refused
//! as `base_url_refused` while the operator's loopback base URL keeps working, and a job output
//! URL resolving to loopback fails the job with a clear message while one on the operator's
//! configured origin is stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use molts_core::ErrorCode;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use common::{get_request, opts, zone};
use molts_core::domain::{JobStatus, NewAgent, Provider, RegistrationMode};
use molts_core::gateway::{
    AdminKeyRequest, AdminPrincipal, AgentPrincipal, JobTiming, NewInstance, ProviderKeyRequest,
    VideoSubmission, WebhookSettings,
};
use molts_core::memory::MemoryBlobStore;
use molts_core::ports::HttpClientExt;
use molts_core::providers::{
    Call, ChatMessage, Credentials, JobProgress, ProviderAdapter, Role, SubmittedJob, TextRequest,
    VideoRequest,
};
use molts_core::sealed::SecretBox;
use molts_core::{ErrorKind, Gateway, GatewayConfig, Ports};
use molts_reqwest::{Lookup, ReqwestHttpClient, native_providers};

const OUTPUT: &[u8] = b"\x00\x00\x00\x18ftypmp42 pretend video bytes";

/// Every name here resolves to loopback.
fn loopback_zone(names: &[&str]) -> Arc<dyn Lookup> {
    let answers: Vec<(&str, &[&str])> = names
        .iter()
        .map(|name| (*name, &["127.0.0.1"][..]))
        .collect();
    zone(&answers)
}

/// A loopback server standing for something internal (a local model server, a database, the
/// metadata service): answers chat completions and MP4 files, counting every request.
async fn internal_server() -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let (chat_hits, file_hits) = (hits.clone(), hits.clone());
    let app = Router::new()
        .route(
            "/v1/chat/completions",
            post(move |_body: Bytes| {
                let hits = chat_hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    (
                        [("content-type", "application/json")],
                        r#"{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],
                            "usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
                    )
                }
            }),
        )
        .route(
            "/files/{name}",
            get(move || {
                let hits = file_hits.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    ([("content-type", "video/mp4")], OUTPUT)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, hits)
}

#[tokio::test]
async fn internal_names_literals_and_rebound_names_are_refused_before_sending() {
    let (port, hits) = internal_server().await;
    let lookup = loopback_zone(&["cdn.provider.test", "allowed.provider.test"]);
    let client =
        ReqwestHttpClient::public_only_with(vec!["allowed.provider.test".into()], lookup).unwrap();
    for host in ["cdn.provider.test", "127.0.0.1", "[::1]", "localhost"] {
        let url = format!("http://{host}:{port}/files/out.mp4?sig=s3cret");
        let error = client
            .send_collect(get_request(&url), opts(), 1024)
            .await
            .expect_err("an internal address must be refused");
        assert_eq!(error.kind(), ErrorKind::Forbidden, "{host}: {error}");
        assert_eq!(error.code(), Some(ErrorCode::AddressRefused), "{host}");
        let shown = format!("{error} {error:?}");
        for leak in ["127.0.0.1", "s3cret", "cdn.provider"] {
            assert!(!shown.contains(leak), "the error shows {leak}: {shown}");
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the server got a request");

    let url = format!("http://allowed.provider.test:{port}/files/out.mp4");
    let response = client
        .send_collect(get_request(&url), opts(), 1024)
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "an allow-listed host is reached");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// A bootstrapped gateway over the memory store: the native providers with `env` (unfiltered),
/// a public-only client over `lookup`, a sealing key, a blob store; and its operator.
async fn gateway(
    env: HashMap<&'static str, String>,
    lookup: Arc<dyn Lookup>,
    jobs: Option<ProviderAdapterFor>,
) -> (Gateway, AdminPrincipal) {
    let ports = Ports::in_memory();
    let config = GatewayConfig {
        cache_ttl: Duration::ZERO,
        jobs: JobTiming {
            first_check: Duration::ZERO,
            ..JobTiming::default()
        },
        webhooks: WebhookSettings::default(),
        ..GatewayConfig::default()
    };
    let mut providers = native_providers(&|name| env.get(name).cloned()).unwrap();
    if let Some((provider, adapter, credentials)) = jobs {
        providers = providers
            .with_adapter(provider, adapter)
            .with_credentials(provider, credentials);
    }
    let gateway = Gateway::new(ports, config)
        .with_providers(providers)
        .with_http(Arc::new(ReqwestHttpClient::new().unwrap()))
        .with_public_only_http(Arc::new(
            ReqwestHttpClient::public_only_with(Vec::new(), lookup).unwrap(),
        ))
        .with_secret_box(SecretBox::from_text(&"22".repeat(32)).unwrap())
        .with_blobs(Arc::new(MemoryBlobStore::new()));
    let token = gateway.bootstrap(None).await.unwrap().generated_admin_token;
    let operator = gateway.authenticate_admin(&token.unwrap()).await.unwrap();
    (gateway, operator)
}

type ProviderAdapterFor = (Provider, Arc<dyn ProviderAdapter>, Credentials);

/// An agent of `instance`, created now, and an admin of it.
async fn tenant(
    gateway: &Gateway,
    operator: &AdminPrincipal,
    instance: &str,
) -> (AgentPrincipal, AdminPrincipal) {
    gateway
        .admin_create_instance(
            operator,
            NewInstance {
                id: instance.into(),
                name: instance.into(),
                registration: Some(RegistrationMode::Open),
                registration_token: None,
                default_tier: None,
                allowed_models: None,
                storage_bytes: None,
            },
        )
        .await
        .unwrap();
    let key = gateway
        .admin_create_admin_key(
            operator,
            AdminKeyRequest {
                name: "tenant admin".into(),
                instance_id: Some(instance.into()),
                read_only: false,
                expires_in_days: None,
            },
        )
        .await
        .unwrap();
    let admin = gateway.authenticate_admin(&key.secret).await.unwrap();
    let agent = agent(gateway, Some(instance)).await;
    (agent, admin)
}

async fn agent(gateway: &Gateway, instance: Option<&str>) -> AgentPrincipal {
    let registered = gateway
        .register_agent(
            NewAgent {
                name: "bot".into(),
                soul_md: "# bot".into(),
                instance: instance.map(str::to_owned),
                ..NewAgent::default()
            },
            None,
        )
        .await
        .unwrap();
    gateway
        .authenticate_agent(&registered.key.secret)
        .await
        .unwrap()
}

fn hello() -> TextRequest {
    TextRequest {
        messages: vec![ChatMessage {
            role: Role::User,
            content: "hello".into(),
        }],
        ..TextRequest::default()
    }
}

#[tokio::test]
async fn a_tenants_base_url_resolving_to_loopback_is_refused_and_the_operators_is_not() {
    let (port, hits) = internal_server().await;
    let env = HashMap::from([
        ("OPENAI_API_KEY", "sk-operator-key-0001".to_owned()),
        ("OPENAI_BASE_URL", format!("http://127.0.0.1:{port}/v1")),
    ]);
    let (gateway, operator) = gateway(env, loopback_zone(&["llm.acme.test"]), None).await;

    // The operator's own configuration may point at loopback: a local model server.
    let own = agent(&gateway, None).await;
    let answered = gateway.generate_text(&own, "gpt-4o-mini", hello()).await;
    assert_eq!(answered.unwrap().output.text, "hi");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A tenant's public-looking name passes the text check when set, and resolves inside.
    let (agent, admin) = tenant(&gateway, &operator, "acme").await;
    gateway
        .admin_put_provider_key(
            &admin,
            "acme",
            Provider::Openai,
            ProviderKeyRequest {
                api_key: "sk-tenant-own-key-0042".into(),
                base_url: Some(format!("http://llm.acme.test:{port}/v1")),
            },
        )
        .await
        .unwrap();
    let refused = gateway
        .generate_text(&agent, "gpt-4o-mini", hello())
        .await
        .expect_err("the tenant's base URL resolves to loopback");
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
    assert_eq!(
        refused.code(),
        Some(ErrorCode::ProviderBaseUrlRefused),
        "{refused}"
    );
    assert!(!refused.message().contains("127.0.0.1"), "{refused}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the server got the tenant's call"
    );
}

/// A video provider whose outputs are ready at once at the URLs it is told (fetched by the
/// gateway: the default `download` is a plain GET).
#[derive(Default, Clone)]
struct Hosted(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl ProviderAdapter for Hosted {
    async fn submit_video(
        &self,
        _call: Call<'_>,
        _request: &VideoRequest,
    ) -> molts_core::Result<SubmittedJob> {
        Ok(SubmittedJob {
            provider_job_id: "v1".into(),
        })
    }

    async fn job_progress(&self, _call: Call<'_>, _id: &str) -> molts_core::Result<JobProgress> {
        Ok(JobProgress::Ready {
            url: self.0.lock().unwrap().remove(0),
            duration: Some(3.0),
            content_type: Some("video/mp4".into()),
        })
    }
}

#[tokio::test]
async fn a_job_output_resolving_to_loopback_fails_the_job_and_the_operators_origin_is_stored() {
    let (port, hits) = internal_server().await;
    let hosted = Hosted::default();
    let operator_base = Credentials {
        api_key: Some("hg-operator-key".into()),
        base_url: Some(format!("http://127.0.0.1:{port}/heygen")),
    };
    let jobs = (
        Provider::Heygen,
        Arc::new(hosted.clone()) as Arc<dyn ProviderAdapter>,
        operator_base,
    );
    let lookup = loopback_zone(&["cdn.provider.test"]);
    let (gateway, _) = gateway(HashMap::new(), lookup, Some(jobs)).await;
    let agent = agent(&gateway, None).await;
    let video = || VideoSubmission {
        model: Some("heygen-avatar".into()),
        script: "Hello".into(),
        ..VideoSubmission::default()
    };

    for (url, stored) in [
        (
            format!("http://cdn.provider.test:{port}/files/a.mp4"),
            false,
        ),
        (format!("http://127.0.0.1:{port}/files/b.mp4"), true),
    ] {
        hosted.0.lock().unwrap().push(url.clone());
        let submitted = gateway.submit_video(&agent, video(), None).await.unwrap();
        let job = gateway.job(&agent, &submitted.job.id).await.unwrap();
        if stored {
            assert_eq!(job.status, JobStatus::Ready, "{url}: {:?}", job.error);
            assert_eq!(
                hits.load(Ordering::SeqCst),
                1,
                "fetched from the operator's origin"
            );
        } else {
            assert_eq!(job.status, JobStatus::Failed, "{url}");
            let error = job.error.unwrap();
            assert_eq!(error.code, "download_failed");
            assert!(error.message.contains("internal address"), "{error:?}");
            assert_eq!(hits.load(Ordering::SeqCst), 0, "the server got a request");
        }
    }
}
