//! Tavus through the real adapter: a replica video submitted with its script and callback,
//! polled from queued through generating to ready (the download URL); a failed video; a
//! missing replica refused before any call; every error class.

use molts_core::ErrorKind;
use molts_core::domain::{ModelConfig, Provider};
use molts_core::providers::{JobProgress, VideoRequest};
use serde_json::json;

use crate::common::{Op, custom, env, error_matrix, expect, video_request};
use crate::jobs::{fetch, progress_error_matrix, ready};

fn model() -> ModelConfig {
    custom("demo-video", Provider::Tavus, "replica-video")
}

#[tokio::test]
async fn a_video_is_polled_to_ready_with_its_download_url() {
    let env = env().await;
    let model = model();
    let job = env
        .submit_video(&model, &video_request("Hello from the fakes."))
        .await
        .unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(seen[..2], [JobProgress::Queued, JobProgress::Processing]);
    let (url, duration, content_type) = ready(&seen);
    assert!(url.ends_with(".mp4"), "{url}");
    assert_eq!(duration, None);
    assert_eq!(content_type.as_deref(), Some("video/mp4"));
    assert_eq!(fetch(&url).await.0, "video/mp4");

    let sent = env.fake.requests("tavus");
    assert_eq!(sent[0].path, "/v2/videos");
    assert_eq!(sent[0].body["replica_id"], json!("r79e1c033f"));
    assert_eq!(sent[0].body["script"], json!("Hello from the fakes."));
    assert_eq!(sent[0].body["video_name"], json!("molts job-1"));
    assert_eq!(
        sent[0].body["callback_url"],
        json!("https://molts.example/v1/jobs/job-1/callback/secret")
    );
    assert_eq!(sent[1].path, format!("/v2/videos/{}", job.provider_job_id));
}

#[tokio::test]
async fn a_failed_video_reports_its_details() {
    let env = env().await;
    let model = model();
    env.fake
        .push_fault("tavus", "fail-job,ready-after=1", 1)
        .unwrap();
    let job = env
        .submit_video(&model, &video_request("Hi"))
        .await
        .unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(
        seen,
        [
            JobProgress::Queued,
            JobProgress::Failed {
                message: molts_fakes::jobs::FAILURE_MESSAGE.to_owned()
            }
        ]
    );
}

#[tokio::test]
async fn a_replica_is_required() {
    let env = env().await;
    let request = VideoRequest {
        avatar_id: None,
        ..video_request("Hi")
    };
    let e = expect(
        env.submit_video(&model(), &request).await.map(|_| ()),
        ErrorKind::Invalid,
        "invalid_value",
    );
    assert_eq!(e.param(), Some("avatar_id"));
    assert!(e.message().contains("replica_id"), "{e}");
    assert!(env.fake.requests("tavus").is_empty());
}

#[tokio::test]
async fn submit_error_matrix() {
    error_matrix("tavus", &model(), Op::Video).await;
}

#[tokio::test]
async fn poll_error_matrix() {
    progress_error_matrix("tavus", &model(), Op::Video).await;
}
