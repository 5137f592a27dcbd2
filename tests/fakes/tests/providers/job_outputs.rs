//! A finished job's output through the Gateway over the fakes: HeyGen's video URL answering 200
//! with an HTML error page (the `html-output` fault) is refused, not stored as the video — the
//! job stays processing, says why, and is checked again — while a good one is stored as given.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use molts_core::domain::{JobStatus, NewAgent};
use molts_core::gateway::{AgentPrincipal, JobTiming, JobView, VideoSubmission};
use molts_core::memory::MemoryBlobStore;
use molts_core::providers::http_registry;
use molts_core::{Gateway, GatewayConfig, Ports};
use molts_fakes::FakeServer;
use molts_reqwest::ReqwestHttpClient;

struct World {
    _fake: FakeServer,
    gateway: Gateway,
    agent: AgentPrincipal,
}

/// A gateway on the memory store and blob store, every provider pointed at a fresh fake, and
/// job checks due every few milliseconds.
async fn world() -> World {
    let fake = FakeServer::start().await.unwrap();
    let vars = fake.env();
    let http = Arc::new(ReqwestHttpClient::new().unwrap());
    let registry = http_registry(http.clone(), &|k| vars.get(k).cloned());
    let ports = Ports::in_memory();
    let config = GatewayConfig {
        jobs: JobTiming {
            first_check: Duration::from_millis(5),
            max_check_interval: Duration::from_millis(20),
            lease: Duration::from_secs(5),
            deadline: Duration::from_secs(60),
            max_submit_attempts: 3,
        },
        ..GatewayConfig::default()
    };
    let gateway = Gateway::new(ports, config)
        .with_providers(registry)
        .with_blobs(Arc::new(MemoryBlobStore::new()))
        .with_http(http);
    gateway.bootstrap(None).await.unwrap();
    let new = NewAgent {
        name: "Filmmaker".into(),
        soul_md: "# Filmmaker\nI make videos.".into(),
        ..NewAgent::default()
    };
    let registered = gateway.register_agent(new, None).await.unwrap();
    let agent = gateway
        .authenticate_agent(&registered.key.secret)
        .await
        .unwrap();
    World {
        _fake: fake,
        gateway,
        agent,
    }
}

impl World {
    /// Submits a HeyGen video whose script carries `marker`.
    async fn submit(&self, script: &str) -> JobView {
        let submission = VideoSubmission {
            model: Some("heygen-avatar".into()),
            script: script.into(),
            ..VideoSubmission::default()
        };
        self.gateway
            .submit_video(&self.agent, submission, None)
            .await
            .unwrap()
            .job
    }

    /// Reads the job (which checks on it when due) until `done` holds; bounded.
    async fn read_until(&self, id: &str, done: impl Fn(&JobView) -> bool) -> JobView {
        let mut last = None;
        for _ in 0..200 {
            let job = self.gateway.job(&self.agent, id).await.unwrap();
            if done(&job) {
                return job;
            }
            last = Some(job);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the job never got there: {last:?}");
    }
}

#[tokio::test]
async fn an_html_page_served_as_the_video_is_not_stored() {
    let w = world().await;
    let job = w.submit("Hello. [[fake-fault:html-output]]").await;
    let refused = w
        .read_until(&job.id, |j| {
            j.error
                .as_ref()
                .is_some_and(|e| e.code == "download_failed")
                || j.status.is_final()
        })
        .await;
    assert_eq!(refused.status, JobStatus::Processing, "{refused:?}");
    assert_eq!(refused.artifact_id, None);
    let message = refused.error.unwrap().message;
    assert!(
        message.contains("not a video (video/mp4): an HTML page served as text/html")
            && message.contains("starting `<!DOCTYPE html><`"),
        "{message}"
    );
    // Checked again, refused again: never ready with the page.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = w.gateway.job(&w.agent, &job.id).await.unwrap();
    assert_eq!(again.status, JobStatus::Processing);
    assert_eq!(again.artifact_id, None);
}

#[tokio::test]
async fn a_real_video_is_stored_as_served() {
    let w = world().await;
    let job = w.submit("Hello.").await;
    let ready = w.read_until(&job.id, |j| j.status.is_final()).await;
    assert_eq!(ready.status, JobStatus::Ready, "{ready:?}");
    let content = w
        .gateway
        .artifact_content(&w.agent, ready.artifact_id.as_deref().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(content.artifact.content_type, "video/mp4");
    let bytes: Vec<_> = content.object.body.map(|c| c.unwrap()).collect().await;
    assert_eq!(bytes.concat(), molts_fakes::jobs::mp4_stub());
}
