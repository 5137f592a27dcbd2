//! Tavus through the real adapter: a replica video submitted with its script and callback,
//! polled from queued through generating to ready (the download URL); a failed video; a
//! missing replica refused before any call; every error class. Personas: a replica trained
//! from a video URL, polled through training to completed; a failed training with Tavus'
//! message; validation on both sides; every error class of the submit and the poll.

use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::{ModelConfig, Provider};
use molts_core::providers::{JobProgress, PersonaRequest, VideoRequest};
use serde_json::json;

use crate::common::{
    Op, custom, env, error_matrix, expect, persona_request, post_json, video_request,
};
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
        ErrorCode::InvalidValue,
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

#[tokio::test]
async fn a_replica_trains_over_polls_to_ready() {
    let env = env().await;
    let model = model();
    let job = env
        .submit_persona(&model, &persona_request())
        .await
        .unwrap();
    let id = job.provider_job_id.clone();
    assert!(id.starts_with('r'), "{id}");

    let sent = env.fake.requests("tavus");
    assert_eq!(
        (sent[0].method.as_str(), sent[0].path.as_str()),
        ("POST", "/v2/replicas")
    );
    assert_eq!(
        sent[0].body,
        json!({
            "train_video_url": "https://example.com/ada/train.mp4",
            "consent_video_url": "https://example.com/ada/consent.mp4",
            "callback_url": "https://molts.example/v1/jobs/job-3/callback/secret",
            "replica_name": "Ada",
        })
    );

    let seen = env.poll_to_end_as(&model, Op::Persona, &id).await;
    assert_eq!(
        seen[..2],
        [JobProgress::Processing, JobProgress::Processing],
        "training takes polls"
    );
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(matches!(seen[2], JobProgress::Ready { .. }), "{seen:?}");
    let sent = env.fake.requests("tavus");
    assert!(
        sent[1..]
            .iter()
            .all(|r| r.path == format!("/v2/replicas/{id}")),
        "{sent:?}"
    );

    // A replica is not a video, and a replica named without a name gets molts' own.
    expect(
        env.progress(&model, &id).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
    );
    let unnamed = PersonaRequest {
        name: None,
        consent_video_url: None,
        callback_url: None,
        ..persona_request()
    };
    env.submit_persona(&model, &unnamed).await.unwrap();
    assert_eq!(
        env.fake.requests("tavus").last().unwrap().body,
        json!({"train_video_url": "https://example.com/ada/train.mp4", "replica_name": "molts job-3"})
    );
}

#[tokio::test]
async fn a_failed_replica_reports_tavus_message() {
    let env = env().await;
    let model = model();
    env.fake
        .push_fault("tavus", "fail-job,ready-after=1", 1)
        .unwrap();
    let job = env
        .submit_persona(&model, &persona_request())
        .await
        .unwrap();
    let seen = env
        .poll_to_end_as(&model, Op::Persona, &job.provider_job_id)
        .await;
    assert_eq!(
        seen,
        [
            JobProgress::Processing,
            JobProgress::Failed {
                message: molts_fakes::jobs::FAILURE_MESSAGE.to_owned()
            }
        ]
    );
}

#[tokio::test]
async fn a_replica_that_never_finishes_keeps_training_until_finished() {
    let env = env().await;
    let model = model();
    env.fake.push_fault("tavus", "never-finish", 1).unwrap();
    let job = env
        .submit_persona(&model, &persona_request())
        .await
        .unwrap();
    let id = job.provider_job_id;
    for _ in 0..5 {
        assert_eq!(
            env.persona_progress(&model, &id).await.unwrap(),
            JobProgress::Processing
        );
    }
    assert!(env.fake.finish_job(&id).is_some());
    let progress = env.persona_progress(&model, &id).await.unwrap();
    assert!(
        matches!(progress, JobProgress::Ready { .. }),
        "{progress:?}"
    );
}

#[tokio::test]
async fn a_training_video_is_required_here_and_urls_are_checked_at_tavus() {
    let env = env().await;
    let model = model();
    let no_video = PersonaRequest {
        video_url: None,
        ..persona_request()
    };
    let e = expect(
        env.submit_persona(&model, &no_video).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::InvalidValue,
    );
    assert_eq!(e.param(), Some("video_url"));
    assert!(env.fake.requests("tavus").is_empty());

    // molts passes the consent video on as given; Tavus refuses what is not a URL.
    let bad_consent = PersonaRequest {
        consent_video_url: Some("consent.mp4".into()),
        ..persona_request()
    };
    let e = expect(
        env.submit_persona(&model, &bad_consent).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
    );
    assert!(e.message().contains("consent_video_url"), "{e}");

    // Straight to the fake: Tavus' own 400 for a replica with no training video.
    let key = molts_fakes::key("tavus");
    let (status, answer) = post_json(
        &format!("{}/v2/replicas", env.fake.base_url("tavus")),
        &[("x-api-key", &key)],
        &json!({"replica_name": "Ada"}),
    )
    .await;
    assert_eq!(
        (status, answer),
        (400, json!({"message": "train_video_url is required"}))
    );
    assert!(env.fake.jobs().is_empty());
}

#[tokio::test]
async fn persona_submit_error_matrix() {
    // 429, 500, a slow head, a wrong key (Tavus' 401, the key not in the error), no key
    // (provider_not_configured), a malformed body and a 400 — then the replica is accepted.
    error_matrix("tavus", &model(), Op::Persona).await;
}

#[tokio::test]
async fn persona_poll_error_matrix() {
    progress_error_matrix("tavus", &model(), Op::Persona).await;
}
