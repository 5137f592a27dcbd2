//! HeyGen through the real adapter: an avatar video with the default avatar and voice, the
//! dimension from the aspect ratio and the job id as callback id, polled from pending to
//! completed (URL and duration); a failed video; validation on both sides; every error class.

use molts_core::ErrorKind;
use molts_core::domain::{ModelConfig, Provider};
use molts_core::providers::{
    DEFAULT_HEYGEN_AVATAR, DEFAULT_HEYGEN_VOICE, JobProgress, VideoRequest,
};
use serde_json::json;

use crate::common::{Op, custom, env, error_matrix, expect, video_request};
use crate::jobs::{fetch, progress_error_matrix, ready};

fn model() -> ModelConfig {
    custom("demo-video", Provider::Heygen, "avatar-video")
}

#[tokio::test]
async fn a_video_is_polled_to_completed_with_its_url_and_duration() {
    let env = env().await;
    let model = model();
    let request = VideoRequest {
        avatar_id: None,
        aspect_ratio: Some("9:16".into()),
        ..video_request("Hello from the fakes.")
    };
    let job = env.submit_video(&model, &request).await.unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(seen[..2], [JobProgress::Queued, JobProgress::Processing]);
    let (url, duration, content_type) = ready(&seen);
    assert_eq!(
        duration,
        Some((molts_fakes::media::speech_seconds("Hello from the fakes.") * 10.0).round() / 10.0)
    );
    assert_eq!(content_type.as_deref(), Some("video/mp4"));
    assert_eq!(fetch(&url).await.0, "video/mp4");

    let sent = env.fake.requests("heygen");
    assert_eq!(sent[0].path, "/v2/video/generate");
    let scene = &sent[0].body["video_inputs"][0];
    assert_eq!(
        scene["character"]["avatar_id"],
        json!(DEFAULT_HEYGEN_AVATAR)
    );
    assert_eq!(scene["voice"]["voice_id"], json!(DEFAULT_HEYGEN_VOICE));
    assert_eq!(scene["voice"]["input_text"], json!("Hello from the fakes."));
    assert_eq!(
        sent[0].body["dimension"],
        json!({"width": 720, "height": 1280})
    );
    assert_eq!(sent[0].body["callback_id"], json!("job-1"));
    assert_eq!(
        sent[0].body["callback_url"],
        json!("https://molts.example/v1/jobs/job-1/callback/secret")
    );
    assert_eq!(sent[1].path, "/v1/video_status.get");
    assert_eq!(
        sent[1].query.as_deref(),
        Some(format!("video_id={}", job.provider_job_id).as_str())
    );
}

#[tokio::test]
async fn given_avatar_and_voice_are_used() {
    let env = env().await;
    let request = VideoRequest {
        avatar_id: Some("Daisy-inskirt-20220818".into()),
        voice_id: Some("2d5b0e6cf36f460aa7fc47e3eee4ba54".into()),
        ..video_request("Hi")
    };
    env.submit_video(&model(), &request).await.unwrap();
    let scene = &env.fake.requests("heygen")[0].body["video_inputs"][0];
    assert_eq!(
        scene["character"]["avatar_id"],
        json!("Daisy-inskirt-20220818")
    );
    assert_eq!(
        scene["voice"]["voice_id"],
        json!("2d5b0e6cf36f460aa7fc47e3eee4ba54")
    );
}

#[tokio::test]
async fn a_failed_video_reports_its_error() {
    let env = env().await;
    let model = model();
    let request = video_request("This one breaks [[fake-fault:fail-job]]");
    let job = env.submit_video(&model, &request).await.unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(
        seen.last(),
        Some(&JobProgress::Failed {
            message: molts_fakes::jobs::FAILURE_MESSAGE.to_owned()
        })
    );
}

#[tokio::test]
async fn requests_are_checked_here_and_at_heygen() {
    let env = env().await;
    let model = model();
    let square_ish = VideoRequest {
        aspect_ratio: Some("21:9".into()),
        ..video_request("Hi")
    };
    let e = expect(
        env.submit_video(&model, &square_ish).await.map(|_| ()),
        ErrorKind::Invalid,
        "invalid_value",
    );
    assert_eq!(e.param(), Some("aspect_ratio"));
    assert!(env.fake.requests("heygen").is_empty());

    let long = video_request(&"word ".repeat(1100));
    let e = expect(
        env.submit_video(&model, &long).await.map(|_| ()),
        ErrorKind::Invalid,
        "provider_rejected",
    );
    assert!(e.message().contains("input_text"), "{e}");
}

#[tokio::test]
async fn submit_error_matrix() {
    error_matrix("heygen", &model(), Op::Video).await;
}

#[tokio::test]
async fn poll_error_matrix() {
    progress_error_matrix("heygen", &model(), Op::Video).await;
}
