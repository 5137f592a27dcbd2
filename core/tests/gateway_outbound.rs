//! Which client an outbound request goes through, by who chose its destination: the operator's
//! configured base URLs (loopback included) through the unfiltered client; a tenant's own base
//! URL through the public-only one, its refusal a clear `base_url_refused`; a URL a provider
//! answered with (a job's output, a hosted image) unfiltered only on the operator-configured
//! origin the call went to, refused by its text when it names an internal host, and otherwise
//! through the public-only client. Both clients here are recording fakes; the public-only one
//! refuses the hosts it is told resolve internally, as `molts-reqwest`'s does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use molts_core::ErrorCode;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use common::{Harness, run, start_time};
use futures::StreamExt;
use molts_core::domain::{JobStatus, Provider, RegistrationMode};
use molts_core::gateway::{
    AgentPrincipal, JobTiming, ProviderKeyRequest, VideoSubmission, WebhookSettings,
};
use molts_core::memory::MemoryBlobStore;
use molts_core::ports::{HttpClient, HttpRequest, HttpResponse, RequestOptions};
use molts_core::providers::{
    Call, ChatMessage, Credentials, GeneratedImage, ImageData, ImageRequest, JobProgress,
    ProviderAdapter, ProviderRegistry, Role, SubmittedJob, TextRequest, VideoRequest,
    http_registry,
};
use molts_core::sealed::SecretBox;
use molts_core::{Error, ErrorKind, Gateway, GatewayConfig, Result};

const OUTPUT: &[u8] = b"\x00\x00\x00\x18ftypmp42 pretend video bytes";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n pretend image";
const CHAT: &str = r#"{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
/// Where the operator's configuration points its providers: loopback, like a local server.
const OPERATOR_BASE: &str = "http://127.0.0.1:7070/provider";

/// Every request either client was asked to send, as (client, URL), refused ones included.
type Log = Arc<Mutex<Vec<(&'static str, String)>>>;

/// A recording client: answers chat completions, PNGs and MP4s; refuses `refuse`'s hosts with
/// `ErrorCode::AddressRefused`, as a public-only client refuses a name resolving to internal addresses.
#[derive(Clone)]
struct Net {
    name: &'static str,
    log: Log,
    refuse: Vec<&'static str>,
}

#[async_trait]
impl HttpClient for Net {
    async fn send(&self, request: HttpRequest, _options: RequestOptions) -> Result<HttpResponse> {
        let url = request.uri().to_string();
        self.log.lock().unwrap().push((self.name, url.clone()));
        if self
            .refuse
            .contains(&request.uri().host().unwrap_or_default())
        {
            return Err(Error::forbidden("internal").with_code(ErrorCode::AddressRefused));
        }
        let (content_type, body) = if url.contains("/chat/completions") {
            ("application/json", Bytes::from_static(CHAT.as_bytes()))
        } else if url.ends_with(".png") {
            ("image/png", Bytes::from_static(PNG))
        } else {
            ("video/mp4", Bytes::from_static(OUTPUT))
        };
        let body = futures::stream::iter([Ok(body)]).boxed();
        Ok(http::Response::builder()
            .status(200)
            .header("content-type", content_type)
            .body(body)
            .unwrap())
    }
}

/// A provider whose videos and images are ready at the URLs it is told, fetched by the gateway
/// (the default `download`: a plain GET of the URL).
#[derive(Default, Clone)]
struct Hosted(Arc<Mutex<VecDeque<String>>>);

impl Hosted {
    fn next_url(&self, url: &str) {
        self.0.lock().unwrap().push_back(url.to_owned());
    }
}

#[async_trait]
impl ProviderAdapter for Hosted {
    async fn submit_video(&self, _call: Call<'_>, _request: &VideoRequest) -> Result<SubmittedJob> {
        Ok(SubmittedJob {
            provider_job_id: "v1".into(),
        })
    }

    async fn job_progress(&self, _call: Call<'_>, _id: &str) -> Result<JobProgress> {
        let url = self.0.lock().unwrap().pop_front().unwrap();
        Ok(JobProgress::Ready {
            url,
            duration: Some(3.0),
            content_type: Some("video/mp4".into()),
        })
    }

    async fn images(&self, _call: Call<'_>, _r: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let url = self.0.lock().unwrap().pop_front().unwrap();
        Ok(vec![GeneratedImage {
            data: ImageData::Url(url),
            revised_prompt: None,
        }])
    }
}

struct World {
    h: Harness,
    gw: Gateway,
    log: Log,
}

impl World {
    /// A gateway over `providers` (unfiltered client: "operator") with a public-only client
    /// ("public") refusing `rebind.example`'s addresses, `models.internal` allow-listed.
    async fn new(providers: impl FnOnce(Net) -> ProviderRegistry) -> Self {
        let config = GatewayConfig {
            jobs: JobTiming {
                first_check: std::time::Duration::from_secs(5),
                ..JobTiming::default()
            },
            webhooks: WebhookSettings {
                allowed_hosts: vec!["models.internal".into()],
                ..WebhookSettings::default()
            },
            ..GatewayConfig::default()
        };
        let h = Harness::start_with(config, start_time()).await;
        let log = Log::default();
        let net = |name| Net {
            name,
            log: log.clone(),
            refuse: vec!["rebind.example"],
        };
        let gw = h
            .gateway
            .clone()
            .with_secret_box(SecretBox::from_text(&"11".repeat(32)).unwrap())
            .with_providers(providers(net("operator")))
            .with_http(Arc::new(net("operator")))
            .with_public_only_http(Arc::new(net("public")))
            .with_blobs(Arc::new(MemoryBlobStore::new()));
        Self { h, gw, log }
    }

    /// What was sent since the last look.
    fn sent(&self) -> Vec<(&'static str, String)> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    /// An agent of a new instance whose OpenAI key, with `base_url`, was set by the instance's
    /// own admin, or by the operator.
    async fn tenant_agent(
        &self,
        instance: &str,
        base_url: &str,
        by_operator: bool,
    ) -> AgentPrincipal {
        self.h
            .instance(instance, RegistrationMode::Open, None)
            .await;
        let tenant_admin = self.h.admin(Some(instance), false).await;
        let admin = if by_operator {
            self.h.operator.clone()
        } else {
            tenant_admin.clone()
        };
        self.gw
            .admin_put_provider_key(
                &admin,
                instance,
                Provider::Openai,
                ProviderKeyRequest {
                    api_key: "sk-tenant-own-key-0042".into(),
                    base_url: Some(base_url.into()),
                },
            )
            .await
            .unwrap();
        let registered = self.h.admin_agent(&tenant_admin, instance, "bot").await;
        self.h.login(&registered.key.secret).await
    }
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

fn operator_env(name: &str) -> Option<String> {
    match name {
        "OPENAI_API_KEY" => Some("sk-operator-key-0001".into()),
        "OPENAI_BASE_URL" => Some(format!("{OPERATOR_BASE}/v1")),
        _ => None,
    }
}

#[test]
fn a_tenants_own_base_url_is_called_through_the_public_only_client() {
    run(async {
        let w = World::new(|net| http_registry(Arc::new(net), &operator_env)).await;
        let (_, own) = w.h.agent("operator-configured").await;
        let answered = w.gw.generate_text(&own, "gpt-4o-mini", hello()).await;
        assert_eq!(answered.unwrap().output.text, "hi");
        assert_eq!(
            w.sent(),
            [("operator", format!("{OPERATOR_BASE}/v1/chat/completions"))],
            "the operator's loopback base URL keeps the unfiltered client"
        );

        let tenant = w
            .tenant_agent("acme", "https://llm.acme.example/v1", false)
            .await;
        let answered = w.gw.generate_text(&tenant, "gpt-4o-mini", hello()).await;
        assert_eq!(answered.unwrap().output.text, "hi");
        assert_eq!(
            w.sent(),
            [(
                "public",
                "https://llm.acme.example/v1/chat/completions".to_owned()
            )],
            "a base URL the tenant chose goes through the public-only client"
        );

        // The operator's own admins may point a tenant inside the network, as before.
        let trusted = w
            .tenant_agent("globex", "http://127.0.0.1:11434/v1", true)
            .await;
        w.gw.generate_text(&trusted, "gpt-4o-mini", hello())
            .await
            .unwrap();
        assert_eq!(
            w.sent(),
            [(
                "operator",
                "http://127.0.0.1:11434/v1/chat/completions".to_owned()
            )]
        );

        // A public-looking name that resolves inside: refused, clearly, and nothing else sent.
        let rebound = w
            .tenant_agent("initech", "https://rebind.example/v1", false)
            .await;
        let refused =
            w.gw.generate_text(&rebound, "gpt-4o-mini", hello())
                .await
                .expect_err("an internal address is refused");
        assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
        assert_eq!(refused.code(), Some(ErrorCode::ProviderBaseUrlRefused));
        assert!(refused.message().contains("base_url"), "{refused}");
        assert!(w.sent().iter().all(|(client, _)| *client == "public"));
    });
}

/// A world whose HeyGen and OpenAI calls are `Hosted`'s, the operator's base URLs on loopback.
async fn hosted_world() -> (World, Hosted) {
    let hosted = Hosted::default();
    let adapter: Arc<dyn ProviderAdapter> = Arc::new(hosted.clone());
    let operator = |provider| Credentials {
        api_key: Some("sk-operator-key-0001".into()),
        base_url: Some(format!("{OPERATOR_BASE}/{provider}")),
    };
    let w = World::new(|_| {
        ProviderRegistry::new()
            .with_adapter(Provider::Heygen, adapter.clone())
            .with_credentials(Provider::Heygen, operator("heygen"))
            .with_adapter(Provider::Openai, adapter)
            .with_credentials(Provider::Openai, operator("openai"))
    })
    .await;
    (w, hosted)
}

#[test]
fn job_outputs_are_fetched_unfiltered_only_from_the_operators_origin() {
    run(async {
        let (w, hosted) = hosted_world().await;
        let (_, agent) = w.h.agent("maker").await;
        let same_origin = "http://127.0.0.1:7070/files/a.mp4";
        let elsewhere = "https://cdn.example.com/b.mp4";
        let allowed = "http://models.internal/c.mp4";
        let metadata = "http://169.254.169.254/latest/meta-data/";
        let neighbour = "http://127.0.0.1:6379/d.mp4";
        let file = "file:///etc/passwd";
        let rebound = "https://rebind.example/e.mp4";
        let expected: [(&str, Option<&str>); 7] = [
            (same_origin, Some("operator")),
            (elsewhere, Some("public")),
            (allowed, Some("public")),
            (metadata, None),
            (neighbour, None),
            (file, None),
            (rebound, Some("public")),
        ];
        for (url, client) in expected {
            hosted.next_url(url);
            let submitted =
                w.gw.submit_video(
                    &agent,
                    VideoSubmission {
                        model: Some("heygen-avatar".into()),
                        script: "Hello".into(),
                        ..VideoSubmission::default()
                    },
                    None,
                )
                .await
                .unwrap();
            w.sent();
            w.h.advance(chrono::Duration::seconds(10));
            // A read of a due job moves it on, and never fails for a refused download.
            let job = w.gw.job(&agent, &submitted.job.id).await.unwrap();
            let sent = w.sent();
            match client {
                Some(client) => assert_eq!(sent, [(client, url.to_owned())], "{url}"),
                None => assert_eq!(sent, [], "{url}: nothing may be sent"),
            }
            let refused = client.is_none() || url == rebound;
            if refused {
                assert_eq!(job.status, JobStatus::Failed, "{url}");
                let error = job.error.unwrap();
                assert_eq!(error.code, "download_failed", "{url}");
                assert!(
                    error.message.contains("internal address"),
                    "{url}: {error:?}"
                );
                for leak in ["169.254", "6379", "127.0.0.1", "rebind"] {
                    assert!(!error.message.contains(leak), "{error:?}");
                }
            } else {
                assert_eq!(job.status, JobStatus::Ready, "{url}: {:?}", job.error);
            }
        }
    });
}

#[test]
fn hosted_images_are_kept_only_from_urls_the_policy_lets_through() {
    run(async {
        let (w, hosted) = hosted_world().await;
        let (_, agent) = w.h.agent("painter").await;
        let request = ImageRequest {
            prompt: "a lighthouse".into(),
            n: 1,
            ..ImageRequest::default()
        };
        for (url, client) in [
            ("http://127.0.0.1:7070/files/a.png", Some("operator")),
            ("https://cdn.example.com/b.png", Some("public")),
            ("http://[::1]:7070/files/c.png", None),
            ("http://localhost:7070/files/d.png", None),
        ] {
            hosted.next_url(url);
            let generated =
                w.gw.generate_images(&agent, "dall-e-3", request.clone())
                    .await
                    .unwrap();
            let sent = w.sent();
            match client {
                Some(client) => {
                    assert_eq!(sent, [(client, url.to_owned())], "{url}");
                    assert!(generated.artifacts[0].is_some(), "{url} is kept");
                }
                None => {
                    assert_eq!(sent, [], "{url}: nothing may be sent");
                    assert!(generated.artifacts[0].is_none(), "{url} is not kept");
                }
            }
        }
    });
}
