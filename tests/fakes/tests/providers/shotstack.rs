//! Shotstack through the real adapter: a render submitted with its callback and polled from
//! queued through rendering to done (URL and duration), a failed render, poll counts set by the
//! server or by a marker in the edit, validation on both sides, and every error class.

use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::{ModelConfig, Provider};
use molts_core::providers::JobProgress;
use serde_json::json;

use crate::common::{Op, custom, env, error_matrix, expect, render_request};
use crate::jobs::{fetch, progress_error_matrix, ready};

fn model() -> ModelConfig {
    custom("demo-render", Provider::Shotstack, "v1")
}

#[tokio::test]
async fn a_render_is_polled_to_done_with_its_url_and_duration() {
    let env = env().await;
    let model = model();
    let job = env.submit_render(&model, &render_request()).await.unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(seen[..2], [JobProgress::Queued, JobProgress::Processing]);
    let (url, duration, content_type) = ready(&seen);
    assert!(url.starts_with(&env.fake.url()), "{url}");
    assert_eq!(duration, Some(8.0));
    assert_eq!(content_type.as_deref(), Some("video/mp4"));
    let (served, len) = fetch(&url).await;
    assert_eq!(served, "video/mp4");
    assert!(len > 0);

    let sent = env.fake.requests("shotstack");
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].path, "/edit/v1/render");
    assert_eq!(
        sent[0].body["callback"],
        json!("https://molts.example/v1/jobs/job-2/callback/secret")
    );
    assert_eq!(sent[0].body["timeline"], render_request().edit["timeline"]);
    assert_eq!(
        sent[1].path,
        format!("/edit/v1/render/{}", job.provider_job_id)
    );
}

#[tokio::test]
async fn a_failed_render_reports_its_error() {
    let env = env().await;
    let model = model();
    env.fake.push_fault("shotstack", "fail-job", 1).unwrap();
    let job = env.submit_render(&model, &render_request()).await.unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(
        seen.last(),
        Some(&JobProgress::Failed {
            message: molts_fakes::jobs::FAILURE_MESSAGE.to_owned()
        })
    );
}

#[tokio::test]
async fn poll_counts_follow_the_server_setting_and_the_marker() {
    let env = env().await;
    let model = model();
    env.fake.set_job_polls(0);
    let job = env.submit_render(&model, &render_request()).await.unwrap();
    assert_eq!(env.poll_to_end(&model, &job.provider_job_id).await.len(), 1);

    let mut request = render_request();
    request.edit["timeline"]["tracks"][0]["clips"][1]["asset"]["text"] =
        json!("The end [[fake-fault:ready-after=4]]");
    let job = env.submit_render(&model, &request).await.unwrap();
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(env.fake.jobs().len(), 2);
}

#[tokio::test]
async fn edits_are_checked_here_and_at_shotstack() {
    let env = env().await;
    let model = model();
    let mut request = render_request();
    request.edit.as_object_mut().unwrap().remove("output");
    let e = expect(
        env.submit_render(&model, &request).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::InvalidValue,
    );
    assert_eq!(e.param(), Some("edit"));
    assert!(env.fake.requests("shotstack").is_empty());

    let mut request = render_request();
    request.edit["timeline"]["tracks"][0]["clips"][0]
        .as_object_mut()
        .unwrap()
        .remove("length");
    let e = expect(
        env.submit_render(&model, &request).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
    );
    assert!(e.message().contains("clips[0].length"), "{e}");
}

#[tokio::test]
async fn submit_error_matrix() {
    error_matrix("shotstack", &model(), Op::Render).await;
}

#[tokio::test]
async fn poll_error_matrix() {
    progress_error_matrix("shotstack", &model(), Op::Render).await;
}
