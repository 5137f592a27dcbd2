//! Scheduled work is fair and bounded: one job whose status check panics, or never answers,
//! does not stop the other jobs of the same round (the hang is cut by its deadline and retried
//! later), and one agent with many due webhook deliveries neither goes before everyone else
//! nor keeps a round going past its time budget.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use molts_core::clock::ManualClock;
use molts_core::domain::{DeliveryStatus, Job, JobKind, JobStatus, Provider, WebhookDelivery};
use molts_core::gateway::WebhookSettings;
use molts_core::ports::{HttpClient, HttpRequest, HttpResponse, RequestOptions};
use molts_core::providers::{
    Call, Fetch, JobProgress, ProviderAdapter, ProviderRegistry, Sleeper, SubmittedJob,
    VideoRequest,
};
use molts_core::{Clock, Gateway, GatewayConfig, Result, Timestamp};

use crate::common::{Harness, run, start_time};
use crate::world::{Scripted, video};

/// A timer on the test's manual clock: `sleep(d)` ends once the clock has moved `d` on.
struct ClockSleeper(Arc<ManualClock>);

#[async_trait]
impl Sleeper for ClockSleeper {
    async fn sleep(&self, duration: Duration) {
        let until = self.0.now() + chrono::Duration::from_std(duration).unwrap();
        Until(self.0.clone(), until).await;
    }
}

/// Ready once the clock reads `.1`; asks to be polled again until then.
struct Until(Arc<ManualClock>, Timestamp);

impl Future for Until {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.now() >= self.1 {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Work that never ends while the test clock runs on, a second per poll. Were nothing to cut
/// it, it would give up by itself after many polls (so a missing deadline fails the test rather
/// than hanging it), with an error no deadline would give.
struct Hang<T>(Arc<ManualClock>, u32, std::marker::PhantomData<fn() -> T>);

impl<T> Hang<T> {
    fn new(clock: &Arc<ManualClock>) -> Self {
        Self(clock.clone(), 0, std::marker::PhantomData)
    }
}

impl<T> Future for Hang<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.1 += 1;
        if self.1 > 10_000 {
            return Poll::Ready(Err(molts_core::Error::unavailable("nothing cut the hang")));
        }
        self.0.advance(chrono::Duration::seconds(1));
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The scripted provider, except that checking the job `panics` names panics, checking the
/// one `hangs` names never answers, and with `stalls`, an output's download sends its first
/// bytes and then nothing more while never going idle.
struct Trap {
    inner: Scripted,
    clock: Arc<ManualClock>,
    panics: &'static str,
    hangs: &'static str,
    stalls: bool,
}

#[async_trait]
impl ProviderAdapter for Trap {
    async fn submit_video(&self, call: Call<'_>, request: &VideoRequest) -> Result<SubmittedJob> {
        self.inner.submit_video(call, request).await
    }

    async fn job_progress(&self, call: Call<'_>, id: &str) -> Result<JobProgress> {
        if id == self.panics {
            panic!("the provider adapter panicked");
        }
        if id == self.hangs {
            return Hang::new(&self.clock).await;
        }
        self.inner.job_progress(call, id).await
    }

    async fn download(&self, call: Call<'_>, url: &str) -> Result<Fetch> {
        let fetched = self.inner.download(call, url).await?;
        if !self.stalls {
            return Ok(fetched);
        }
        let Fetch::Fetched(download) = fetched else {
            unreachable!("the scripted provider serves its outputs itself")
        };
        let stall = futures::stream::once(Hang::<Bytes>::new(&self.clock));
        Ok(Fetch::Fetched(molts_core::providers::Download {
            body: download.body.take(1).chain(stall).boxed(),
            ..download
        }))
    }
}

struct Trapped {
    h: Harness,
    gw: Gateway,
    provider: Scripted,
}

/// A gateway whose provider is a [`Trap`] and whose timer is the test's clock.
async fn trapped(panics: &'static str, hangs: &'static str, stalls: bool) -> Trapped {
    let config = GatewayConfig {
        public_url: Some("https://molts.test".into()),
        ..GatewayConfig::default()
    };
    let h = Harness::start_with(config, start_time()).await;
    let provider = Scripted::default();
    let trap = Trap {
        inner: provider.clone(),
        clock: h.clock.clone(),
        panics,
        hangs,
        stalls,
    };
    let gw = h
        .gateway
        .clone()
        .with_providers(
            ProviderRegistry::new()
                .with_adapter(Provider::Demo, Arc::new(trap))
                .with_sleeper(Arc::new(ClockSleeper(h.clock.clone()))),
        )
        .with_blobs(Arc::new(molts_core::memory::MemoryBlobStore::new()));
    Trapped { h, gw, provider }
}

impl Trapped {
    /// Two agents' jobs, submitted in order (provider ids `p1` then `p2`), both due a check;
    /// the scripted provider answers the next healthy check with "ready".
    async fn two_due_jobs(&self) -> (String, String) {
        let mut ids = Vec::new();
        for name in ["troubled", "healthy"] {
            let (_, agent) = self.h.agent(name).await;
            let job = self.gw.submit_video(&agent, video("Hi"), None).await;
            ids.push(job.unwrap().job.id);
        }
        self.provider.ready();
        self.h.advance(chrono::Duration::seconds(5));
        (ids[0].clone(), ids[1].clone())
    }

    async fn job(&self, id: &str) -> Job {
        self.gw.stores().jobs.get_job(id).await.unwrap().unwrap()
    }
}

#[test]
fn a_panicking_check_does_not_stop_the_other_jobs_of_its_round() {
    run(async {
        let t = trapped("p1", "", false).await;
        let (troubled, healthy) = t.two_due_jobs().await;
        let report = t.gw.run_scheduled_work().await.unwrap();
        assert_eq!(t.job(&healthy).await.status, JobStatus::Ready);
        assert_eq!(report.items_failed, 1, "{report:?}");
        // The panicking job is left as its claim made it: due again once the lease ends.
        let left = t.job(&troubled).await;
        assert_eq!(left.status, JobStatus::Processing);
        t.h.advance(chrono::Duration::seconds(121));
        let again = t.gw.run_scheduled_work().await.unwrap();
        assert_eq!(again.items_failed, 1, "the job is tried again: {again:?}");
    });
}

#[test]
fn a_check_that_never_answers_is_cut_by_its_deadline_and_retried_later() {
    run(async {
        let t = trapped("", "p1", false).await;
        let (troubled, healthy) = t.two_due_jobs().await;
        let report = t.gw.run_scheduled_work().await.unwrap();
        assert_eq!(t.job(&healthy).await.status, JobStatus::Ready, "{report:?}");
        let cut = t.job(&troubled).await;
        assert_eq!(cut.status, JobStatus::Processing);
        let error = cut.error.expect("the cut check is recorded");
        assert_eq!(error.code, "provider_unavailable");
        assert!(
            error.message.contains("did not finish within"),
            "{}",
            error.message
        );
        assert!(cut.next_check_at > t.h.now(), "retried later, not at once");
    });
}

#[test]
fn an_output_download_that_never_ends_is_cut_by_the_lease_and_retried_later() {
    run(async {
        let t = trapped("", "", true).await;
        let (first, second) = t.two_due_jobs().await;
        t.gw.run_scheduled_work().await.unwrap();
        assert_eq!(t.provider.script().checks, 2, "both jobs were checked");
        let jobs = [t.job(&first).await, t.job(&second).await];
        let cut: Vec<&Job> = jobs.iter().filter(|j| j.error.is_some()).collect();
        assert_eq!(
            cut.len(),
            1,
            "the one answered ready was downloaded: {jobs:?}"
        );
        assert_eq!(cut[0].status, JobStatus::Processing);
        let error = cut[0].error.clone().unwrap();
        assert_eq!(error.code, "download_failed");
        assert!(
            error
                .message
                .contains("copying the job's output did not finish within"),
            "{}",
            error.message
        );
        assert!(
            cut[0].next_check_at > t.h.now(),
            "retried later, not at once"
        );
    });
}

/// Records webhook POSTs; each takes two seconds on the test clock.
#[derive(Clone)]
struct SlowHooks {
    clock: Arc<ManualClock>,
    sent: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl HttpClient for SlowHooks {
    async fn send(&self, request: HttpRequest, _options: RequestOptions) -> Result<HttpResponse> {
        self.clock.advance(chrono::Duration::seconds(2));
        let id = request.headers()["webhook-id"].to_str().unwrap().to_owned();
        self.sent.lock().unwrap().push(id);
        let body = futures::stream::iter([Ok(Bytes::from_static(b"ok"))]).boxed();
        Ok(http::Response::builder().status(200).body(body).unwrap())
    }
}

/// A ready job of `agent` with `count` due deliveries of its event, due at `due`.
async fn due_deliveries(h: &Harness, agent: &str, count: usize, due: Timestamp) {
    let job = Job {
        id: format!("job_{agent}"),
        instance_id: "default".into(),
        agent_id: agent.to_owned(),
        kind: JobKind::Video,
        model_id: "demo-video".into(),
        provider: Provider::Demo,
        provider_job_id: Some("p".into()),
        status: JobStatus::Ready,
        input: Default::default(),
        units: 1,
        reservation_id: format!("job_{agent}"),
        idempotency_key: None,
        callback_token_hash: String::new(),
        webhook_url: None,
        attempts: 1,
        next_check_at: due,
        deadline_at: due,
        error: None,
        artifact_id: None,
        duration_seconds: None,
        created_at: due,
        updated_at: due,
        finished_at: Some(due),
        version: 1,
    };
    h.stores().jobs.insert_job(&job).await.unwrap();
    for n in 0..count {
        let delivery = WebhookDelivery {
            id: format!("msg_{agent}_{n:02}"),
            agent_id: agent.to_owned(),
            job_id: job.id.clone(),
            event_type: "job.ready".into(),
            url: format!("http://127.0.0.1:9/{agent}"),
            payload: r#"{"type":"job.ready"}"#.into(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            next_attempt_at: due,
            last_status: None,
            last_error: None,
            created_at: due,
            delivered_at: None,
        };
        h.stores()
            .webhooks
            .insert_delivery(&delivery)
            .await
            .unwrap();
    }
}

#[test]
fn one_agents_backlog_neither_goes_first_nor_outlasts_the_round_budget() {
    run(async {
        let config = GatewayConfig {
            webhooks: WebhookSettings {
                allowed_hosts: vec!["127.0.0.1".into()],
                ..WebhookSettings::default()
            },
            ..GatewayConfig::default()
        };
        let h = Harness::start_with(config, start_time()).await;
        let hooks = SlowHooks {
            clock: h.clock.clone(),
            sent: Arc::default(),
        };
        let gw = h.gateway.clone().with_http(Arc::new(hooks.clone()));
        // The busy agent's forty deliveries were all due before the quiet agent's one.
        due_deliveries(&h, "busy", 40, h.now()).await;
        due_deliveries(&h, "quiet", 1, h.now() + chrono::Duration::seconds(1)).await;
        h.advance(chrono::Duration::seconds(2));

        let report = gw.run_scheduled_work().await.unwrap();
        let sent = hooks.sent.lock().unwrap().clone();
        let quiet = sent.iter().position(|id| id.starts_with("msg_quiet"));
        assert!(
            quiet.is_some_and(|at| at < 2),
            "the quiet agent waited behind the busy one: {sent:?}"
        );
        // Each POST takes two seconds: the round starts none after its 30 s budget (those
        // already given a place, at most `concurrency`, still run).
        assert!(
            sent.len() < 41,
            "the round outlasted its budget: {} sent",
            sent.len()
        );
        assert_eq!(report.webhooks_attempted as usize, sent.len());
        assert_eq!(
            report.items_deferred as usize,
            41 - sent.len(),
            "{report:?}"
        );
        // What was left waits for the next round, still due.
        gw.run_scheduled_work().await.unwrap();
        let total = hooks.sent.lock().unwrap().len();
        assert_eq!(total, 41, "the rest went in the next round");
    });
}
