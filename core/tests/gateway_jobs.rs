//! Durable jobs through the gateway, on the memory store and blob store with a manual clock: the
//! state machine, quota held then settled or refunded, idempotency, isolation, cancel, deadlines,
//! provider callbacks and signed webhook deliveries with retries.
//!
//! The provider here is a scripted stand-in for the *port* (the state machine is under test,
//! not an adapter); the real adapters meet their wire formats against the fake servers in
//! `tests/fakes`, and the whole flow runs over real HTTP in the standalone's tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use common::{Harness, expect_err, run, start_time};
use futures::StreamExt;
use molts_core::domain::{DeliveryStatus, JobStatus, Period, Provider, ReservationState, Unit};
use molts_core::gateway::{
    AgentPrincipal, JobTiming, RenderSubmission, VideoSubmission, WebhookSettings, sign_webhook,
};
use molts_core::memory::MemoryBlobStore;
use molts_core::ports::{HttpClient, HttpRequest, HttpResponse, RequestOptions};
use molts_core::providers::{
    Call, Download, JobProgress, ProviderAdapter, ProviderRegistry, RenderRequest, SubmittedJob,
    VideoRequest,
};
use molts_core::{Error, ErrorKind, Gateway, GatewayConfig, Result};

const OUTPUT: &[u8] = b"\x00\x00\x00\x18ftypmp42 pretend video bytes";

#[derive(Default)]
struct Script {
    submit_errors: VecDeque<Error>,
    progress: VecDeque<JobProgress>,
    submitted: Vec<VideoRequest>,
    renders: Vec<RenderRequest>,
    checks: u32,
    /// What the next downloads answer (declared type, bytes); [`OUTPUT`] when empty.
    downloads: VecDeque<(&'static str, &'static [u8])>,
}

/// The provider port, answering from a script.
#[derive(Default, Clone)]
struct Scripted(Arc<Mutex<Script>>);

impl Scripted {
    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().unwrap()
    }
    fn then(&self, progress: JobProgress) {
        self.script().progress.push_back(progress);
    }
    fn ready(&self) {
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

    async fn download(&self, _call: Call<'_>, url: &str) -> Result<Option<Download>> {
        assert_eq!(url, "scripted://out.mp4");
        let (content_type, bytes) = self
            .script()
            .downloads
            .pop_front()
            .unwrap_or(("video/mp4", OUTPUT));
        // In small pieces, as a network answer comes.
        let chunks: Vec<Result<Bytes>> = bytes
            .chunks(5)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Ok(Some(Download {
            content_type: Some(content_type.into()),
            body: futures::stream::iter(chunks).boxed(),
        }))
    }
}

/// What the webhook client saw and will answer.
type HookLog = (Vec<http::Request<Bytes>>, VecDeque<u16>);

/// Records webhook POSTs and answers them with scripted statuses (200 when the script is empty).
#[derive(Default, Clone)]
struct Hooks(Arc<Mutex<HookLog>>);

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

struct World {
    h: Harness,
    gw: Gateway,
    provider: Scripted,
    hooks: Hooks,
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

async fn world() -> World {
    let config = GatewayConfig {
        public_url: Some("https://molts.test".into()),
        jobs: timing(),
        webhooks: WebhookSettings {
            allowed_hosts: vec!["127.0.0.1".into()],
            ..WebhookSettings::default()
        },
        ..GatewayConfig::default()
    };
    let h = Harness::start_with(config, start_time()).await;
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

fn video(script: &str) -> VideoSubmission {
    VideoSubmission {
        script: script.into(),
        ..VideoSubmission::default()
    }
}

impl World {
    async fn videos_used(&self, principal: &AgentPrincipal) -> u64 {
        let usage = self.gw.usage(principal).await.unwrap();
        usage.unit(Unit::Video).unwrap().month.used
    }

    /// Moves time on and runs one round of scheduled work.
    async fn tick(&self, seconds: i64) {
        self.h.advance(chrono::Duration::seconds(seconds));
        self.gw.run_scheduled_work().await.unwrap();
    }
}

#[test]
fn a_video_job_is_held_then_checked_then_stored_and_settled() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let submitted =
            w.gw.submit_video(&agent, video("Hello there"), None)
                .await
                .unwrap();
        let job = submitted.job;
        assert_eq!(job.status, JobStatus::Processing);
        assert_eq!(job.model, "demo-video");
        assert_eq!(w.videos_used(&agent).await, 1, "the job holds one video");
        let stored = w.gw.stores().jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(stored.provider_job_id.as_deref(), Some("p1"));
        let sent = w.provider.script().submitted[0].clone();
        assert_eq!(sent.script, "Hello there");
        assert_eq!(sent.job_id, job.id);
        assert!(
            sent.callback_url.as_deref().is_some_and(
                |u| u.starts_with(&format!("https://molts.test/v1/callbacks/{}/", job.id))
            ),
            "{sent:?}"
        );

        // Not yet due: nothing is asked.
        w.tick(1).await;
        assert_eq!(w.provider.script().checks, 0);
        // Due: still processing at the provider.
        w.tick(5).await;
        assert_eq!(w.provider.script().checks, 1);
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            JobStatus::Processing
        );

        w.provider.ready();
        w.tick(60).await;
        let done = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(done.status, JobStatus::Ready);
        assert_eq!(done.duration, Some(4.5));
        let artifact_id = done.artifact_id.clone().unwrap();
        assert_eq!(
            done.url.as_deref(),
            Some(format!("https://molts.test/v1/artifacts/{artifact_id}/content").as_str())
        );
        let content =
            w.gw.artifact_content(&agent, &artifact_id, None)
                .await
                .unwrap();
        assert_eq!(content.artifact.size, OUTPUT.len() as u64);
        assert_eq!(content.artifact.content_type, "video/mp4");
        let bytes: Vec<Bytes> = content.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(bytes.concat(), OUTPUT);
        let range =
            w.gw.artifact_content(&agent, &artifact_id, Some(4..8))
                .await
                .unwrap();
        let part: Vec<Bytes> = range.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(part.concat(), &OUTPUT[4..8]);

        let hold =
            w.gw.stores()
                .quota
                .get_reservation(&job.id)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(hold.state, ReservationState::Settled);
        assert_eq!(hold.charged, Some(1));
        assert_eq!(w.videos_used(&agent).await, 1);

        // A second job of the same agent stores its own output.
        let second =
            w.gw.submit_video(&agent, video("Again"), None)
                .await
                .unwrap()
                .job;
        w.provider.ready();
        w.tick(60).await;
        let second = w.gw.job(&agent, &second.id).await.unwrap();
        assert_eq!(second.status, JobStatus::Ready);
        assert_ne!(second.artifact_id, done.artifact_id);

        // A finished job is never asked about again.
        let checks = w.provider.script().checks;
        w.tick(3600).await;
        assert_eq!(w.provider.script().checks, checks);
    });
}

#[test]
fn a_failed_job_is_refunded_with_the_providers_message() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job =
            w.gw.submit_video(&agent, video("Hi"), None)
                .await
                .unwrap()
                .job;
        w.provider.then(JobProgress::Failed {
            message: "avatar not found".into(),
        });
        w.tick(5).await;
        let failed = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        let error = failed.error.unwrap();
        assert_eq!(error.code, "provider_failed");
        assert_eq!(error.message, "avatar not found");
        assert_eq!(w.videos_used(&agent).await, 0, "refunded");
    });
}

#[test]
fn an_outage_at_submission_is_retried_then_fails_and_refunds() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        for _ in 0..10 {
            w.provider
                .script()
                .submit_errors
                .push_back(Error::unavailable("upstream 503"));
        }
        let job =
            w.gw.submit_video(&agent, video("Hi"), None)
                .await
                .unwrap()
                .job;
        assert_eq!(
            job.status,
            JobStatus::Queued,
            "kept for a retry, not failed"
        );
        assert_eq!(job.error.as_ref().unwrap().code, "provider_unavailable");
        assert_eq!(w.videos_used(&agent).await, 1);
        for _ in 0..10 {
            w.tick(120).await;
        }
        let failed = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error.unwrap().code, "provider_unavailable");
        assert_eq!(w.videos_used(&agent).await, 0, "refunded");
        let left = w.provider.script().submit_errors.len();
        assert_eq!(10 - left, 3, "exactly max_submit_attempts submissions");
    });
}

#[test]
fn a_recovered_provider_takes_a_deferred_job() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        w.provider
            .script()
            .submit_errors
            .push_back(Error::unavailable("upstream 503"));
        let job =
            w.gw.submit_video(&agent, video("Hi"), None)
                .await
                .unwrap()
                .job;
        assert_eq!(job.status, JobStatus::Queued);
        w.tick(120).await;
        let stored = w.gw.stores().jobs.get_job(&job.id).await.unwrap().unwrap();
        assert_eq!(stored.status, JobStatus::Processing);
        assert!(stored.error.is_none(), "the old error is cleared");
        w.provider.ready();
        w.tick(60).await;
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            JobStatus::Ready
        );
        assert_eq!(w.videos_used(&agent).await, 1);
    });
}

#[test]
fn an_idempotency_key_returns_the_same_job_and_charges_once() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let first =
            w.gw.submit_video(&agent, video("Once"), Some("key-1"))
                .await
                .unwrap();
        assert!(!first.replayed);
        let again =
            w.gw.submit_video(&agent, video("Once"), Some("key-1"))
                .await
                .unwrap();
        assert!(again.replayed);
        assert_eq!(again.job.id, first.job.id);
        assert_eq!(w.videos_used(&agent).await, 1);
        assert_eq!(w.provider.script().submitted.len(), 1);

        let err = expect_err(
            w.gw.submit_video(&agent, video("Something else"), Some("key-1"))
                .await,
            ErrorKind::Conflict,
        );
        assert_eq!(err.code(), Some("idempotency_key_reused"));

        // Racing retries with one key: one job, one charge.
        let racers = (0..10).map(|_| w.gw.submit_video(&agent, video("Race"), Some("key-2")));
        let results = futures::future::join_all(racers).await;
        let ids: std::collections::BTreeSet<String> =
            results.into_iter().map(|r| r.unwrap().job.id).collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(w.videos_used(&agent).await, 2);

        expect_err(
            w.gw.submit_video(&agent, video("x"), Some("")).await,
            ErrorKind::Invalid,
        );
        // Another agent's same key is its own.
        let (_, other) = w.h.agent("other").await;
        let theirs =
            w.gw.submit_video(&other, video("Once"), Some("key-1"))
                .await
                .unwrap();
        assert_ne!(theirs.job.id, first.job.id);
        assert!(!theirs.replayed);
    });
}

#[test]
fn an_agent_sees_only_its_own_jobs() {
    run(async {
        let w = world().await;
        let (_, alice) = w.h.agent("alice").await;
        let (_, bob) = w.h.agent("bob").await;
        let job =
            w.gw.submit_video(&alice, video("Mine"), None)
                .await
                .unwrap()
                .job;
        expect_err(w.gw.job(&bob, &job.id).await, ErrorKind::NotFound);
        expect_err(w.gw.cancel_job(&bob, &job.id).await, ErrorKind::NotFound);
        assert!(
            w.gw.list_jobs(&bob, None, None, None, None)
                .await
                .unwrap()
                .data
                .is_empty()
        );
        let mine =
            w.gw.list_jobs(&alice, None, None, None, None)
                .await
                .unwrap();
        assert_eq!(mine.data.len(), 1);
        assert_eq!(mine.data[0].agent.name, "alice");
        let none =
            w.gw.list_jobs(&alice, None, Some(JobStatus::Ready), None, None)
                .await
                .unwrap();
        assert!(none.data.is_empty());
    });
}

#[test]
fn cancel_refunds_and_a_late_result_changes_nothing() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job =
            w.gw.submit_video(&agent, video("Hi"), None)
                .await
                .unwrap()
                .job;
        let canceled = w.gw.cancel_job(&agent, &job.id).await.unwrap();
        assert_eq!(canceled.status, JobStatus::Canceled);
        assert_eq!(w.videos_used(&agent).await, 0);
        w.provider.ready();
        w.tick(60).await;
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            JobStatus::Canceled
        );
        assert_eq!(w.videos_used(&agent).await, 0);
        let again = expect_err(w.gw.cancel_job(&agent, &job.id).await, ErrorKind::Conflict);
        assert_eq!(again.code(), Some("job_finished"));
    });
}

#[test]
fn a_job_past_its_deadline_times_out_and_is_refunded() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job =
            w.gw.submit_video(&agent, video("Slow"), None)
                .await
                .unwrap()
                .job;
        for _ in 0..70 {
            w.tick(60).await;
        }
        let failed = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.error.unwrap().code, "timed_out");
        assert_eq!(w.videos_used(&agent).await, 0);
    });
}

/// What a provider's CDN answers with 200 when something is wrong on its side.
const ERROR_PAGE: &[u8] =
    b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>";

#[test]
fn an_output_that_is_not_a_video_is_refused_and_fetched_again() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job =
            w.gw.submit_video(&agent, video("Hi"), None)
                .await
                .unwrap()
                .job;
        // Ready, but the download is the CDN's error page, declared as the video.
        w.provider.ready();
        w.provider
            .script()
            .downloads
            .push_back(("video/mp4", ERROR_PAGE));
        w.tick(5).await;
        let refused = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(
            refused.status,
            JobStatus::Processing,
            "not ready with a page"
        );
        assert_eq!(refused.artifact_id, None);
        let error = refused.error.unwrap();
        assert_eq!(error.code, "download_failed");
        assert!(
            error
                .message
                .contains("not a video (video/mp4): an HTML page")
                && error.message.contains("starting `<!DOCTYPE html><`"),
            "{}",
            error.message
        );
        let artifact = format!("art_{}", job.id.trim_start_matches("job_"));
        let stored = w.gw.stores().artifacts.get_artifact(&artifact).await;
        assert!(stored.unwrap().is_none(), "nothing stored");
        assert_eq!(w.videos_used(&agent).await, 1, "still held");

        // The next check asks the provider again and gets the video.
        w.provider.ready();
        w.tick(60).await;
        let done = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(done.status, JobStatus::Ready);
        let content =
            w.gw.artifact_content(&agent, done.artifact_id.as_deref().unwrap(), None)
                .await
                .unwrap();
        let bytes: Vec<Bytes> = content.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(bytes.concat(), OUTPUT);
    });
}

#[test]
fn an_output_that_stays_an_error_page_fails_the_job_at_its_deadline() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job =
            w.gw.submit_video(&agent, video("Hi"), None)
                .await
                .unwrap()
                .job;
        for _ in 0..100 {
            w.provider.ready();
            w.provider
                .script()
                .downloads
                .push_back(("text/html; charset=utf-8", ERROR_PAGE));
        }
        for _ in 0..70 {
            w.tick(60).await;
        }
        let failed = w.gw.job(&agent, &job.id).await.unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.artifact_id, None);
        assert_eq!(failed.error.unwrap().code, "timed_out");
        assert_eq!(w.videos_used(&agent).await, 0, "refunded");
    });
}

#[test]
fn quota_is_checked_before_anything_is_stored() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        // The free tier allows 10 videos a month.
        for n in 0..10 {
            w.gw.submit_video(&agent, video(&format!("v{n}")), None)
                .await
                .unwrap();
        }
        let err = expect_err(
            w.gw.submit_video(&agent, video("one too many"), None).await,
            ErrorKind::QuotaExceeded,
        );
        assert_eq!(err.code(), Some("quota_exceeded"));
        let all =
            w.gw.list_jobs(&agent, None, None, None, Some(100))
                .await
                .unwrap();
        assert_eq!(all.data.len(), 10, "the refused submission stored no job");
    });
}

#[test]
fn bad_submissions_are_refused() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        expect_err(
            w.gw.submit_video(&agent, video("  "), None).await,
            ErrorKind::Invalid,
        );
        let long = "x".repeat(molts_core::gateway::MAX_SCRIPT_CHARS + 1);
        expect_err(
            w.gw.submit_video(&agent, video(&long), None).await,
            ErrorKind::Invalid,
        );
        let bad_ratio = VideoSubmission {
            aspect_ratio: Some("4:3".into()),
            ..video("Hi")
        };
        expect_err(
            w.gw.submit_video(&agent, bad_ratio, None).await,
            ErrorKind::Invalid,
        );
        let internal = VideoSubmission {
            webhook_url: Some("http://169.254.169.254/latest".into()),
            ..video("Hi")
        };
        let err = expect_err(
            w.gw.submit_video(&agent, internal, None).await,
            ErrorKind::Invalid,
        );
        assert_eq!(err.code(), Some("webhook_url_refused"));
        let no_tracks = RenderSubmission {
            model: None,
            timeline: serde_json::json!({"tracks": []}),
            output: None,
            webhook_url: None,
        };
        expect_err(
            w.gw.submit_render(&agent, no_tracks, None).await,
            ErrorKind::Invalid,
        );
        assert_eq!(w.videos_used(&agent).await, 0);
        assert!(
            w.gw.list_jobs(&agent, None, None, None, None)
                .await
                .unwrap()
                .data
                .is_empty()
        );
    });
}

#[test]
fn a_callback_with_the_jobs_token_checks_it_now_and_others_are_refused() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let job =
            w.gw.submit_video(&agent, video("Hi"), None)
                .await
                .unwrap()
                .job;
        let url = w.provider.script().submitted[0]
            .callback_url
            .clone()
            .unwrap();
        let token = url.rsplit('/').next().unwrap().to_owned();

        let err = expect_err(
            w.gw.job_callback(&job.id, "wrong").await,
            ErrorKind::Unauthorized,
        );
        assert_eq!(err.code(), Some("callback_refused"));
        expect_err(
            w.gw.job_callback("job_missing", &token).await,
            ErrorKind::Unauthorized,
        );
        expect_err(
            w.gw.heygen_callback(Some("00"), b"{}").await,
            ErrorKind::Unauthorized,
        );

        w.provider.ready();
        w.gw.job_callback(&job.id, &token).await.unwrap();
        assert_eq!(
            w.gw.job(&agent, &job.id).await.unwrap().status,
            JobStatus::Ready
        );
        // A duplicate or late callback changes nothing.
        w.gw.job_callback(&job.id, &token).await.unwrap();
        assert_eq!(w.provider.script().checks, 1);
    });
}

#[test]
fn webhooks_are_signed_retried_and_delivered_once_acknowledged() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let endpoint =
            w.gw.set_webhook_endpoint(&agent, Some("http://127.0.0.1:9/agent-hook".into()), false)
                .await
                .unwrap();
        assert!(endpoint.secret.starts_with("whsec_"));
        let request = VideoSubmission {
            webhook_url: Some("http://127.0.0.1:9/request-hook".into()),
            ..video("Hi")
        };
        let job = w.gw.submit_video(&agent, request, None).await.unwrap().job;
        // The first attempt at each target fails with a 500, the retries succeed.
        w.hooks.0.lock().unwrap().1.extend([500, 500]);
        w.provider.ready();
        w.tick(5).await;
        {
            let sent = &w.hooks.0.lock().unwrap().0;
            assert_eq!(sent.len(), 2, "both targets attempted");
            for request in sent {
                let id = request.headers()["webhook-id"].to_str().unwrap();
                let ts: i64 = request.headers()["webhook-timestamp"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let sig = request.headers()["webhook-signature"].to_str().unwrap();
                let body = std::str::from_utf8(request.body()).unwrap();
                assert_eq!(sig, sign_webhook(&endpoint.secret, id, ts, body).unwrap());
                let event: serde_json::Value = serde_json::from_str(body).unwrap();
                assert_eq!(event["type"], "job.ready");
                assert_eq!(event["data"]["id"], job.id.as_str());
                assert_eq!(event["data"]["status"], "ready");
            }
        }
        let deliveries =
            w.gw.webhook_deliveries(&agent, Some(&job.id), None)
                .await
                .unwrap();
        assert_eq!(deliveries.len(), 2);
        assert!(
            deliveries
                .iter()
                .all(|d| d.status == DeliveryStatus::Pending
                    && d.attempts == 1
                    && d.last_status == Some(500))
        );

        w.tick(6).await;
        let deliveries =
            w.gw.webhook_deliveries(&agent, Some(&job.id), None)
                .await
                .unwrap();
        assert!(
            deliveries
                .iter()
                .all(|d| d.status == DeliveryStatus::Delivered && d.attempts == 2),
            "{deliveries:?}"
        );
        let ids: Vec<String> = w
            .hooks
            .0
            .lock()
            .unwrap()
            .0
            .iter()
            .map(|r| r.headers()["webhook-id"].to_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 4);
        let first: std::collections::BTreeSet<_> = ids[..2].iter().collect();
        let retries: std::collections::BTreeSet<_> = ids[2..].iter().collect();
        assert_eq!(first.len(), 2, "each target has its own id");
        assert_eq!(first, retries, "retries keep their webhook-id");
        // Nothing more is sent once acknowledged.
        w.tick(3600).await;
        assert_eq!(w.hooks.0.lock().unwrap().0.len(), 4);
    });
}

#[test]
fn an_endpoint_that_never_answers_ends_failed_after_the_schedule() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        w.gw.set_webhook_endpoint(&agent, Some("http://127.0.0.1:9/down".into()), false)
            .await
            .unwrap();
        let job =
            w.gw.submit_video(&agent, video("Hi"), None)
                .await
                .unwrap()
                .job;
        w.hooks
            .0
            .lock()
            .unwrap()
            .1
            .extend(std::iter::repeat_n(503, 50));
        w.provider.then(JobProgress::Failed {
            message: "nope".into(),
        });
        for _ in 0..40 {
            w.tick(3600).await;
        }
        let deliveries =
            w.gw.webhook_deliveries(&agent, Some(&job.id), None)
                .await
                .unwrap();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(deliveries[0].event_type, "job.failed");
        assert_eq!(deliveries[0].status, DeliveryStatus::Failed);
        let schedule = WebhookSettings::default().retry_schedule.len() as u32;
        assert_eq!(deliveries[0].attempts, schedule + 1);
    });
}

#[test]
fn a_hold_whose_job_was_never_stored_is_refunded_when_it_expires() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let now = w.h.now();
        let request = molts_core::domain::ReserveRequest {
            reservation_id: "job_orphan".into(),
            agent_id: agent.agent.id.clone(),
            unit: Unit::Video,
            amount: 1,
            periods: vec![molts_core::domain::PeriodLimit {
                period: Period::Month,
                key: molts_core::clock::month_key(now),
                max: Some(10),
            }],
            at: now,
            expires_at: now + chrono::Duration::minutes(1),
        };
        w.gw.stores().quota.reserve(&request).await.unwrap();
        w.tick(120).await;
        let hold =
            w.gw.stores()
                .quota
                .get_reservation("job_orphan")
                .await
                .unwrap()
                .unwrap();
        assert_eq!(hold.state, ReservationState::Refunded);
    });
}

#[test]
fn generated_images_are_kept_as_the_agents_artifacts() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let (_, other) = w.h.agent("other").await;
        let request = molts_core::providers::ImageRequest {
            prompt: "a red square".into(),
            n: 1,
            ..Default::default()
        };
        let generated =
            w.gw.generate_images(&agent, "demo-image", request)
                .await
                .unwrap();
        let kept = generated.artifacts[0].clone().expect("kept");
        assert_eq!(kept.content_type, "image/png");
        assert!(
            kept.name.starts_with("image-") && kept.name.ends_with(".png"),
            "{}",
            kept.name
        );
        let content = w.gw.artifact_content(&agent, &kept.id, None).await.unwrap();
        let bytes: Vec<Bytes> = content.object.body.map(|c| c.unwrap()).collect().await;
        assert_eq!(bytes.concat(), b"\x89PNG pretend");
        expect_err(w.gw.artifact(&other, &kept.id).await, ErrorKind::NotFound);
        let listed =
            w.gw.list_artifacts(&agent, None, None, None, None)
                .await
                .unwrap();
        assert_eq!(listed.data.len(), 1);
    });
}

#[test]
fn a_ready_persona_is_free_and_becomes_the_default_avatar() {
    run(async {
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let missing = molts_core::gateway::PersonaSubmission::default();
        expect_err(
            w.gw.submit_persona(&agent, missing, None).await,
            ErrorKind::Invalid,
        );
        let no_file = molts_core::gateway::PersonaSubmission {
            image_file: Some("nope.png".into()),
            ..Default::default()
        };
        expect_err(
            w.gw.submit_persona(&agent, no_file, None).await,
            ErrorKind::NotFound,
        );

        let photo = futures::stream::iter([Ok(Bytes::from_static(b"photo"))]).boxed();
        w.gw.upload_file(&agent, "me.png", "image/png", photo)
            .await
            .unwrap();
        let request = molts_core::gateway::PersonaSubmission {
            image_file: Some("me.png".into()),
            ..Default::default()
        };
        let persona =
            w.gw.submit_persona(&agent, request, None)
                .await
                .unwrap()
                .job;
        assert_eq!(persona.kind, molts_core::domain::JobKind::Persona);
        w.tick(5).await;
        let persona = w.gw.job(&agent, &persona.id).await.unwrap();
        assert_eq!(persona.status, JobStatus::Ready);
        assert!(
            persona.artifact_id.is_none(),
            "a persona is an id, not a file"
        );
        assert_eq!(w.videos_used(&agent).await, 0, "personas are free");

        w.gw.submit_video(&agent, video("Me, talking"), None)
            .await
            .unwrap();
        let named = VideoSubmission {
            avatar_id: Some("stock-avatar".into()),
            ..video("Someone else")
        };
        w.gw.submit_video(&agent, named, None).await.unwrap();
        let sent = w.provider.script().submitted.clone();
        assert_eq!(
            sent[0].avatar_id.as_deref(),
            Some("persona-1"),
            "the persona by default"
        );
        assert_eq!(
            sent[1].avatar_id.as_deref(),
            Some("stock-avatar"),
            "a named avatar wins"
        );
    });
}

#[test]
fn a_retried_persona_with_a_photo_is_the_same_job() {
    run(async {
        use base64::Engine;
        let w = world().await;
        let (_, agent) = w.h.agent("maker").await;
        let request = || molts_core::gateway::PersonaSubmission {
            image_base64: Some(base64::engine::general_purpose::STANDARD.encode(b"photo")),
            image_content_type: Some("image/png".into()),
            ..Default::default()
        };
        let first =
            w.gw.submit_persona(&agent, request(), Some("p-1"))
                .await
                .unwrap();
        let again =
            w.gw.submit_persona(&agent, request(), Some("p-1"))
                .await
                .unwrap();
        assert!(again.replayed);
        assert_eq!(again.job.id, first.job.id);
        let files =
            w.gw.list_artifacts(&agent, None, None, None, None)
                .await
                .unwrap();
        assert_eq!(files.data.len(), 1, "the photo was uploaded once");
    });
}
