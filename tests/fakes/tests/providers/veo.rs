//! Veo through the Gemini adapter: `predictLongRunning` with the prompt and parameters, the
//! operation polled until done with the video URI; an operation ending in an error; a sample
//! withheld by the safety filter; ratios Veo does not make; every error class.

use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::ModelConfig;
use molts_core::providers::{JobProgress, VEO_DURATION_SECONDS, VideoRequest};
use serde_json::json;

use crate::common::{Op, env, error_matrix, expect, seeded, video_request};
use crate::jobs::{fetch, progress_error_matrix, ready};

fn model() -> ModelConfig {
    seeded("veo-3.1")
}

#[tokio::test]
async fn an_operation_is_polled_to_done_with_the_video_uri() {
    let env = env().await;
    let model = model();
    let request = VideoRequest {
        context: Some("golden hour, slow pan".into()),
        ..video_request("a cat surfing a wave")
    };
    let job = env.submit_video(&model, &request).await.unwrap();
    assert!(
        job.provider_job_id
            .starts_with("models/veo-3.1-generate-preview/operations/"),
        "{}",
        job.provider_job_id
    );
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(
        seen[..2],
        [JobProgress::Processing, JobProgress::Processing]
    );
    let (url, _, content_type) = ready(&seen);
    assert_eq!(content_type.as_deref(), Some("video/mp4"));
    assert_eq!(fetch(&url).await.0, "video/mp4");

    let sent = env.fake.requests("gemini");
    assert_eq!(
        sent[0].path,
        "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    );
    assert_eq!(
        sent[0].body["instances"][0]["prompt"],
        json!("a cat surfing a wave\n\ngolden hour, slow pan")
    );
    assert_eq!(
        sent[0].body["parameters"],
        json!({"aspectRatio": "16:9", "durationSeconds": VEO_DURATION_SECONDS, "sampleCount": 1})
    );
    assert_eq!(sent[1].method, "GET");
    assert_eq!(sent[1].path, format!("/v1beta/{}", job.provider_job_id));
}

#[tokio::test]
async fn an_operation_ending_in_error_or_filtered_fails() {
    let env = env().await;
    let model = model();
    let job = env
        .submit_video(&model, &video_request("a storm [[fake-fault:fail-job]]"))
        .await
        .unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(
        seen.last(),
        Some(&JobProgress::Failed {
            message: molts_fakes::jobs::FAILURE_MESSAGE.to_owned()
        })
    );

    let job = env
        .submit_video(&model, &video_request("something unsafe"))
        .await
        .unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    let Some(JobProgress::Failed { message }) = seen.last() else {
        panic!("failed expected: {seen:?}")
    };
    assert!(message.contains("safety filter"), "{message}");
}

#[tokio::test]
async fn ratios_veo_does_not_make_are_refused_before_any_call() {
    let env = env().await;
    let request = VideoRequest {
        aspect_ratio: Some("1:1".into()),
        ..video_request("a cat")
    };
    let e = expect(
        env.submit_video(&model(), &request).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::InvalidValue,
    );
    assert_eq!(e.param(), Some("aspect_ratio"));
    assert!(env.fake.requests("gemini").is_empty());
}

#[tokio::test]
async fn submit_error_matrix() {
    error_matrix("gemini", &model(), Op::Video).await;
}

#[tokio::test]
async fn poll_error_matrix() {
    progress_error_matrix("gemini", &model(), Op::Video).await;
}
