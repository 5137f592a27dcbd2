//! The world every job test runs in: a gateway over the memory store and blob store with a
//! manual clock, a scripted provider port (`Scripted`) and a webhook client that records what it
//! is sent (`Hooks`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use molts_core::clock::ManualClock;
use molts_core::domain::{Provider, Unit};
use molts_core::gateway::{AgentPrincipal, JobTiming, JobView, VideoSubmission, WebhookSettings};
use molts_core::memory::{MemoryBlobStore, MemoryRateLimiter, MemoryStore};
use molts_core::ports::{HttpClient, HttpRequest, HttpResponse, RequestOptions};
use molts_core::providers::{
    Call, Cancel, Download, Fetch, JobProgress, ProviderAdapter, ProviderRegistry, RenderRequest,
    SubmittedJob, VideoRequest,
};
use molts_core::{Error, Gateway, GatewayConfig, Ports, Result, Stores, SystemIds};

use crate::common::{Harness, start_time};

pub(crate) const OUTPUT: &[u8] = b"\x00\x00\x00\x18ftypmp42 pretend video bytes";

#[derive(Default)]
pub(crate) struct Script {
    pub(crate) submit_errors: VecDeque<Error>,
    progress: VecDeque<JobProgress>,
    pub(crate) submitted: Vec<VideoRequest>,
    renders: Vec<RenderRequest>,
    pub(crate) checks: u32,
    /// What the next downloads answer (declared type, bytes); [`OUTPUT`] when empty.
    pub(crate) downloads: VecDeque<(&'static str, &'static [u8])>,
    /// Whether the provider confirms cancels (it cannot cancel when `false`, the default).
    pub(crate) confirms_cancel: bool,
    /// The provider job ids it was asked to cancel.
    pub(crate) cancel_requests: Vec<String>,
    /// When set, the next download's bytes wait for this.
    pub(crate) download_gate: Option<futures::channel::oneshot::Receiver<()>>,
    /// Downloads begun.
    pub(crate) downloads_started: u32,
}

/// The provider port, answering from a script.
#[derive(Default, Clone)]
pub(crate) struct Scripted(Arc<Mutex<Script>>);

impl Scripted {
    pub(crate) fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().unwrap()
    }
    pub(crate) fn then(&self, progress: JobProgress) {
        self.script().progress.push_back(progress);
    }
    pub(crate) fn ready(&self) {
        self.then(JobProgress::Ready {
            url: "scripted://out.mp4".into(),
            duration: Some(4.5),
            content_type: Some("video/mp4".into()),
        });
    }
}

#[async_trait]
impl ProviderAdapter for Scripted {
    async fn submit_video(&self, _call: Call<'_>, request: &VideoRequest) -> Result<SubmittedJob> {
        let mut s = self.script();
        if let Some(e) = s.submit_errors.pop_front() {
            return Err(e);
        }
        s.submitted.push(request.clone());
        Ok(SubmittedJob {
            provider_job_id: format!("p{}", s.submitted.len()),
        })
    }

    async fn submit_render(
        &self,
        _call: Call<'_>,
        request: &RenderRequest,
    ) -> Result<SubmittedJob> {
        let mut s = self.script();
        s.renders.push(request.clone());
        Ok(SubmittedJob {
            provider_job_id: format!("r{}", s.renders.len()),
        })
    }

    async fn job_progress(&self, _call: Call<'_>, _id: &str) -> Result<JobProgress> {
        let mut s = self.script();
        s.checks += 1;
        Ok(s.progress.pop_front().unwrap_or(JobProgress::Processing))
    }

    async fn images(
        &self,
        _call: Call<'_>,
        _request: &molts_core::providers::ImageRequest,
    ) -> Result<Vec<molts_core::providers::GeneratedImage>> {
        Ok(vec![molts_core::providers::GeneratedImage {
            data: molts_core::providers::ImageData::Bytes {
                bytes: Bytes::from_static(b"\x89PNG pretend"),
                content_type: "image/png".into(),
            },
            revised_prompt: None,
        }])
    }

    async fn submit_persona(
        &self,
        _call: Call<'_>,
        request: &molts_core::providers::PersonaRequest,
    ) -> Result<SubmittedJob> {
        let photo = request.image.as_ref().map(|(b, t)| (b.len(), t.clone()));
        assert_eq!(
            photo,
            Some((5, "image/png".to_owned())),
            "the uploaded photo is sent"
        );
        Ok(SubmittedJob {
            provider_job_id: "persona-1".into(),
        })
    }

    async fn persona_progress(&self, _call: Call<'_>, id: &str) -> Result<JobProgress> {
        assert_eq!(id, "persona-1");
        Ok(JobProgress::Ready {
            url: String::new(),
            duration: None,
            content_type: None,
        })
    }

    async fn download(&self, _call: Call<'_>, url: &str) -> Result<Fetch> {
        assert_eq!(url, "scripted://out.mp4");
        let mut s = self.script();
        s.downloads_started += 1;
        let gate = s.download_gate.take();
        let (content_type, bytes) = s.downloads.pop_front().unwrap_or(("video/mp4", OUTPUT));
        // In small pieces, as a network answer comes.
        let chunks: Vec<Bytes> = bytes.chunks(5).map(Bytes::copy_from_slice).collect();
        let pieces = futures::stream::iter(chunks).map(Ok::<_, Error>);
        let body = match gate {
            Some(gate) => futures::stream::once(gate)
                .filter_map(|_| std::future::ready(None::<Result<Bytes>>))
                .chain(pieces)
                .boxed(),
            None => pieces.boxed(),
        };
        Ok(Fetch::Fetched(Download {
            content_type: Some(content_type.into()),
            body,
        }))
    }

    async fn cancel_job(&self, _call: Call<'_>, provider_job_id: &str) -> Result<Cancel> {
        let mut s = self.script();
        s.cancel_requests.push(provider_job_id.to_owned());
        Ok(if s.confirms_cancel {
            Cancel::Confirmed
        } else {
            Cancel::Unsupported
        })
    }
}

/// What the webhook client saw and will answer.
pub(crate) type HookLog = (Vec<http::Request<Bytes>>, VecDeque<u16>);

/// Records webhook POSTs and answers them with scripted statuses (200 when the script is empty).
#[derive(Default, Clone)]
pub(crate) struct Hooks(pub(crate) Arc<Mutex<HookLog>>);

#[async_trait]
impl HttpClient for Hooks {
    async fn send(&self, request: HttpRequest, _options: RequestOptions) -> Result<HttpResponse> {
        let mut state = self.0.lock().unwrap();
        let status = state.1.pop_front().unwrap_or(200);
        state.0.push(request);
        let body = futures::stream::iter([Ok(Bytes::from_static(b"ok"))]).boxed();
        Ok(http::Response::builder().status(status).body(body).unwrap())
    }
}

pub(crate) struct World {
    pub(crate) h: Harness,
    pub(crate) gw: Gateway,
    pub(crate) provider: Scripted,
    pub(crate) hooks: Hooks,
}

fn timing() -> JobTiming {
    JobTiming {
        first_check: std::time::Duration::from_secs(5),
        max_check_interval: std::time::Duration::from_secs(60),
        lease: std::time::Duration::from_secs(120),
        deadline: std::time::Duration::from_secs(3600),
        max_submit_attempts: 3,
    }
}

pub(crate) async fn world() -> World {
    world_over(|_, _| {}).await
}

/// The world over the memory store, with `adjust` given the store and the ports built over it
/// first (to wrap one of them).
pub(crate) async fn world_over(adjust: impl FnOnce(Arc<MemoryStore>, &mut Stores)) -> World {
    let config = GatewayConfig {
        public_url: Some("https://molts.test".into()),
        jobs: timing(),
        webhooks: WebhookSettings {
            allowed_hosts: vec!["127.0.0.1".into()],
            ..WebhookSettings::default()
        },
        ..GatewayConfig::default()
    };
    let h = harness_over(config, adjust).await;
    let provider = Scripted::default();
    let hooks = Hooks::default();
    let gw = h
        .gateway
        .clone()
        .with_providers(
            ProviderRegistry::new().with_adapter(Provider::Demo, Arc::new(provider.clone())),
        )
        .with_blobs(Arc::new(MemoryBlobStore::new()))
        .with_http(Arc::new(hooks.clone()));
    World {
        h,
        gw,
        provider,
        hooks,
    }
}

/// [`Harness::start_with`], over stores `adjust` may change.
async fn harness_over(
    config: GatewayConfig,
    adjust: impl FnOnce(Arc<MemoryStore>, &mut Stores),
) -> Harness {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_time()));
    let mut stores = Stores::from_one(store.clone());
    adjust(store.clone(), &mut stores);
    let ports = Ports {
        stores,
        clock: clock.clone(),
        ids: Arc::new(SystemIds),
        rate_limiter: Arc::new(MemoryRateLimiter::new()),
    };
    let gateway = Gateway::new(ports, config);
    let report = gateway.bootstrap(None).await.unwrap();
    let operator_token = report.generated_admin_token.unwrap();
    let operator = gateway.authenticate_admin(&operator_token).await.unwrap();
    Harness {
        gateway,
        store,
        clock,
        operator,
        operator_token,
    }
}

pub(crate) fn video(script: &str) -> VideoSubmission {
    VideoSubmission {
        script: script.into(),
        ..VideoSubmission::default()
    }
}

impl World {
    /// `agent` asks for a video of `script`; the job as accepted.
    pub(crate) async fn submitted(&self, agent: &AgentPrincipal, script: &str) -> JobView {
        self.gw
            .submit_video(agent, video(script), None)
            .await
            .unwrap()
            .job
    }

    pub(crate) async fn videos_used(&self, principal: &AgentPrincipal) -> u64 {
        let usage = self.gw.usage(principal).await.unwrap();
        usage.unit(Unit::Video).unwrap().month.used
    }

    /// Moves time on and runs one round of scheduled work.
    pub(crate) async fn tick(&self, seconds: i64) {
        self.h.advance(chrono::Duration::seconds(seconds));
        self.gw.run_scheduled_work().await.unwrap();
    }
}
