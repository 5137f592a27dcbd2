//! Provider callbacks: a finished job calls back like the real provider — Shotstack's render
//! callback, Tavus' video, HeyGen's signed `avatar_video.*` events (to the video's callback URL
//! and the account endpoint) — asynchronously, once per finish, loopback only; and
//! `POST /_fake/jobs/{id}/finish` finishes a job that would never finish by itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use molts_core::domain::{ModelConfig, Provider};
use molts_core::providers::{JobProgress, PersonaRequest, RenderRequest, VideoRequest};
use molts_fakes::heygen_signature;
use serde_json::{Value, json};

use crate::common::{Op, custom, env, persona_request, render_request, video_request};

/// One callback a receiver got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: Value,
    raw: Bytes,
}

/// A loopback receiver recording every POST.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    State(got): State<Arc<Mutex<Vec<Got>>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> StatusCode {
    got.lock().unwrap().push(Got {
        path: uri.path().to_owned(),
        headers,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
    });
    StatusCode::NO_CONTENT
}

async fn receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .fallback(axum::routing::post(record))
        .with_state(got.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { url, got, task }
}

impl Receiver {
    /// Waits (bounded) until `n` callbacks arrived and answers them.
    async fn wait_for(&self, n: usize) -> Vec<Got> {
        for _ in 0..200 {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "expected {n} callbacks within 5 s, got {:?}",
            self.got.lock().unwrap()
        );
    }

    fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

fn heygen() -> ModelConfig {
    custom("demo-video", Provider::Heygen, "avatar-video")
}

fn tavus() -> ModelConfig {
    custom("demo-video", Provider::Tavus, "replica-video")
}

fn shotstack() -> ModelConfig {
    custom("demo-render", Provider::Shotstack, "v1")
}

#[tokio::test]
async fn heygen_posts_a_signed_success_event_to_the_callback_and_the_account_endpoint() {
    let env = env().await;
    let hooks = receiver().await;
    env.fake.set_heygen_webhook(
        Some("whsec-heygen-test"),
        Some(&format!("{}/account", hooks.url)),
    );
    let request = VideoRequest {
        callback_url: Some(format!("{}/video", hooks.url)),
        ..video_request("Call me back.")
    };
    let model = heygen();
    let job = env.submit_video(&model, &request).await.unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    let JobProgress::Ready { url, .. } = seen.last().unwrap().clone() else {
        panic!("ready expected: {seen:?}");
    };
    let mut got = hooks.wait_for(2).await;
    got.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(
        got.iter().map(|g| g.path.as_str()).collect::<Vec<_>>(),
        ["/account", "/video"]
    );
    for g in &got {
        assert_eq!(
            g.body,
            json!({"event_type": "avatar_video.success", "event_data": {
                "video_id": job.provider_job_id, "url": url, "callback_id": "job-1",
            }})
        );
        let signature = heygen_signature("whsec-heygen-test", &g.raw);
        assert_eq!(g.headers["signature"], signature.as_str());
        assert_eq!(g.headers["x-heygen-signature"], signature.as_str());
    }
    // Later polls announce nothing more.
    env.progress(&model, &job.provider_job_id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hooks.count(), 2);
    let sent = env.fake.callbacks();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|c| c.status == Some(204)), "{sent:?}");
}

#[tokio::test]
async fn a_failed_heygen_video_is_announced_unsigned_without_a_secret() {
    let env = env().await;
    let hooks = receiver().await;
    let request = VideoRequest {
        callback_url: Some(format!("{}/video", hooks.url)),
        ..video_request("This fails. [[fake-fault:fail-job ready-after=0]]")
    };
    let model = heygen();
    let job = env.submit_video(&model, &request).await.unwrap();
    env.poll_to_end(&model, &job.provider_job_id).await;
    let got = hooks.wait_for(1).await;
    assert_eq!(got[0].body["event_type"], "avatar_video.fail");
    assert_eq!(
        got[0].body["event_data"]["video_id"],
        job.provider_job_id.as_str()
    );
    assert_eq!(
        got[0].body["event_data"]["msg"],
        molts_fakes::jobs::FAILURE_MESSAGE
    );
    assert!(got[0].headers.get("signature").is_none());
}

#[tokio::test]
async fn tavus_and_shotstack_post_their_callbacks() {
    let env = env().await;
    let hooks = receiver().await;
    let request = VideoRequest {
        callback_url: Some(format!("{}/tavus", hooks.url)),
        ..video_request("Tavus calls back.")
    };
    let model = tavus();
    let job = env.submit_video(&model, &request).await.unwrap();
    env.poll_to_end(&model, &job.provider_job_id).await;
    let got = hooks.wait_for(1).await;
    assert_eq!(got[0].path, "/tavus");
    assert_eq!(got[0].body["video_id"], job.provider_job_id.as_str());
    assert_eq!(got[0].body["status"], "ready");
    assert!(got[0].body["download_url"].as_str().is_some());

    let render = RenderRequest {
        callback_url: Some(format!("{}/shotstack", hooks.url)),
        ..render_request()
    };
    let model = shotstack();
    let job = env.submit_render(&model, &render).await.unwrap();
    env.poll_to_end(&model, &job.provider_job_id).await;
    let got = hooks.wait_for(2).await;
    assert_eq!(got[1].path, "/shotstack");
    let body = &got[1].body;
    assert_eq!(body["type"], "edit");
    assert_eq!(body["action"], "render");
    assert_eq!(body["id"], job.provider_job_id.as_str());
    assert_eq!(body["status"], "done");
    assert!(body["url"].as_str().is_some_and(|u| u.ends_with(".mp4")));
}

#[tokio::test]
async fn a_trained_or_failed_tavus_replica_is_posted_to_its_callback() {
    let env = env().await;
    let hooks = receiver().await;
    let model = tavus();
    let request = PersonaRequest {
        callback_url: Some(format!("{}/replica", hooks.url)),
        ..persona_request()
    };
    let job = env.submit_persona(&model, &request).await.unwrap();
    env.poll_to_end_as(&model, Op::Persona, &job.provider_job_id)
        .await;
    let got = hooks.wait_for(1).await;
    assert_eq!(got[0].path, "/replica");
    let body = &got[0].body;
    assert_eq!(body["replica_id"], job.provider_job_id.as_str());
    assert_eq!(body["replica_name"], "Ada");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["training_progress"], "100/100");
    assert_eq!(body["error_message"], Value::Null);

    env.fake
        .push_fault("tavus", "fail-job,ready-after=0", 1)
        .unwrap();
    let job = env.submit_persona(&model, &request).await.unwrap();
    env.poll_to_end_as(&model, Op::Persona, &job.provider_job_id)
        .await;
    let got = hooks.wait_for(2).await;
    let body = &got[1].body;
    assert_eq!(body["replica_id"], job.provider_job_id.as_str());
    assert_eq!(body["status"], "error");
    assert_eq!(
        body["error_message"],
        json!(molts_fakes::jobs::FAILURE_MESSAGE)
    );
    assert_eq!(hooks.count(), 2, "one callback per finish");
}

#[tokio::test]
async fn finish_ends_a_job_that_never_would_and_calls_back_each_time() {
    let env = env().await;
    let hooks = receiver().await;
    let request = VideoRequest {
        callback_url: Some(format!("{}/video", hooks.url)),
        ..video_request("Slow. [[fake-fault:never-finish]]")
    };
    let model = heygen();
    let job = env.submit_video(&model, &request).await.unwrap();
    for _ in 0..20 {
        let progress = env.progress(&model, &job.provider_job_id).await.unwrap();
        assert!(
            matches!(progress, JobProgress::Queued | JobProgress::Processing),
            "{progress:?}"
        );
    }
    assert_eq!(hooks.count(), 0);

    let client = molts_reqwest::ReqwestHttpClient::new().unwrap();
    let finish = format!(
        "{}/_fake/jobs/{}/finish",
        env.fake.url(),
        job.provider_job_id
    );
    let send = |url: String| {
        let client = client.clone();
        async move {
            use molts_core::ports::{HttpClientExt, RequestOptions};
            let request = http::Request::post(url).body(Bytes::new()).unwrap();
            let options = RequestOptions {
                timeout: Duration::from_secs(5),
            };
            let response = client
                .send_collect(request, options, 1 << 20)
                .await
                .unwrap();
            (
                response.status().as_u16(),
                serde_json::from_slice::<Value>(response.body()).unwrap_or(Value::Null),
            )
        }
    };
    let (status, body) = send(finish.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], job.provider_job_id.as_str());
    assert_eq!(body["finished"], true);
    hooks.wait_for(1).await;
    assert!(matches!(
        env.progress(&model, &job.provider_job_id).await.unwrap(),
        JobProgress::Ready { .. }
    ));
    // A second finish sends the callback again, as providers sometimes do.
    assert_eq!(send(finish).await.0, 200);
    let got = hooks.wait_for(2).await;
    assert_eq!(got[0].raw, got[1].raw);
    let unknown = format!("{}/_fake/jobs/nope/finish", env.fake.url());
    assert_eq!(send(unknown).await.0, 404);
}

#[tokio::test]
async fn callbacks_go_to_loopback_only_and_the_webhook_is_configurable_over_http() {
    let env = env().await;
    // The canned request's callback is https://molts.example/…: recorded, never sent.
    let model = heygen();
    let job = env
        .submit_video(&model, &video_request("Far away."))
        .await
        .unwrap();
    env.poll_to_end(&model, &job.provider_job_id).await;
    let sent = env.fake.callbacks();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].status.is_none());
    assert!(sent[0].error.as_deref().unwrap().contains("loopback"));

    let client = molts_reqwest::ReqwestHttpClient::new().unwrap();
    use molts_core::ports::{HttpClientExt, RequestOptions};
    let options = RequestOptions {
        timeout: Duration::from_secs(5),
    };
    let url = format!("{}/_fake/heygen/webhook", env.fake.url());
    let request = http::Request::post(&url)
        .header("content-type", "application/json")
        .body(Bytes::from(json!({"secret": "s3cret"}).to_string()))
        .unwrap();
    let response = client
        .send_collect(request, options, 1 << 20)
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let request = http::Request::get(&url).body(Bytes::new()).unwrap();
    let response = client
        .send_collect(request, options, 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body, json!({"secret": "s3cret", "url": null}));
    let request = http::Request::post(&url)
        .body(Bytes::from_static(b"{\"secrte\":1}"))
        .unwrap();
    let response = client
        .send_collect(request, options, 1 << 20)
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}
