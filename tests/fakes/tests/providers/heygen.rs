//! HeyGen through the real adapter: an avatar video with the default avatar and voice, the
//! dimension from the aspect ratio and the job id as callback id, polled from pending to
//! completed (URL and duration); a failed video; validation on both sides; every error class.
//! Personas: a talking photo uploaded as the photo's raw bytes with its content type, ready at
//! once, and a video with it as the talking_photo character.

use bytes::Bytes;
use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::{ModelConfig, Provider};
use molts_core::providers::{
    DEFAULT_HEYGEN_AVATAR, DEFAULT_HEYGEN_VOICE, JobProgress, PersonaRequest, TALKING_PHOTO_PREFIX,
    VideoRequest,
};
use serde_json::{Value, json};

use crate::common::{
    Op, custom, env, error_matrix, expect, persona_request, post_json, video_request,
};
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
        ErrorCode::InvalidValue,
    );
    assert_eq!(e.param(), Some("aspect_ratio"));
    assert!(env.fake.requests("heygen").is_empty());

    let long = video_request(&"word ".repeat(1100));
    let e = expect(
        env.submit_video(&model, &long).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
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

/// A tiny JPEG: the SOI and JFIF APP0 markers, which is all the fake (and its magic-number
/// check) looks at.
fn jpeg() -> Bytes {
    Bytes::from_static(
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9",
    )
}

#[tokio::test]
async fn a_talking_photo_is_uploaded_as_the_photos_bytes_and_is_ready_at_once() {
    let env = env().await;
    let model = model();
    for (bytes, content_type) in [
        (Bytes::from(molts_fakes::media::png([1, 2, 3])), "image/png"),
        (jpeg(), "image/jpeg"),
    ] {
        let request = PersonaRequest {
            image: Some((bytes.clone(), content_type.into())),
            ..persona_request()
        };
        let before = env.fake.requests("heygen").len();
        let job = env.submit_persona(&model, &request).await.unwrap();
        let sent = env.fake.requests("heygen");
        assert_eq!(sent.len(), before + 1);
        let upload = &sent[before];
        assert_eq!(
            (upload.method.as_str(), upload.path.as_str()),
            ("POST", "/v1/talking_photo")
        );
        assert_eq!(upload.content_type.as_deref(), Some(content_type));
        assert_eq!(
            upload.raw_body(),
            bytes.to_vec(),
            "the photo arrives as sent"
        );
        assert_eq!(upload.body, Value::Null, "the body is the photo, not JSON");

        let photo = job
            .provider_job_id
            .strip_prefix(TALKING_PHOTO_PREFIX)
            .unwrap_or_else(|| panic!("a talking photo id: {}", job.provider_job_id));
        assert_eq!(photo.len(), 32, "HeyGen's id shape: {photo}");

        // Ready without asking HeyGen again.
        let progress = env
            .persona_progress(&model, &job.provider_job_id)
            .await
            .unwrap();
        assert!(
            matches!(progress, JobProgress::Ready { .. }),
            "{progress:?}"
        );
        assert_eq!(env.fake.requests("heygen").len(), before + 1);
    }

    // Only ids molts made are personas.
    expect(
        env.persona_progress(&model, "Angela-inTshirt-20220820")
            .await
            .map(|_| ()),
        ErrorKind::Unavailable,
        ErrorCode::ProviderBadResponse,
    );
}

#[tokio::test]
async fn a_video_of_a_talking_photo_sends_the_talking_photo_character() {
    let env = env().await;
    let model = model();
    let persona = env
        .submit_persona(&model, &persona_request())
        .await
        .unwrap();
    let photo = persona
        .provider_job_id
        .strip_prefix(TALKING_PHOTO_PREFIX)
        .unwrap()
        .to_owned();
    let request = VideoRequest {
        avatar_id: Some(persona.provider_job_id.clone()),
        ..video_request("Hello from my photo.")
    };
    let job = env.submit_video(&model, &request).await.unwrap();

    let sent = env.fake.requests("heygen");
    let generate = sent.last().unwrap();
    assert_eq!(generate.path, "/v2/video/generate");
    assert_eq!(
        generate.body["video_inputs"][0]["character"],
        json!({"type": "talking_photo", "talking_photo_id": photo})
    );
    let seen = env.poll_to_end(&model, &job.provider_job_id).await;
    ready(&seen);

    // HeyGen knows only the talking photos it made.
    let stranger = VideoRequest {
        avatar_id: Some(format!(
            "{TALKING_PHOTO_PREFIX}00000000000000000000000000000bad"
        )),
        ..video_request("Who am I?")
    };
    let e = expect(
        env.submit_video(&model, &stranger).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::ProviderRejected,
    );
    assert!(e.message().contains("talking_photo_id"), "{e}");
}

#[tokio::test]
async fn a_photo_is_required_here_and_checked_at_heygen() {
    let env = env().await;
    let model = model();
    let no_photo = PersonaRequest {
        image: None,
        ..persona_request()
    };
    let e = expect(
        env.submit_persona(&model, &no_photo).await.map(|_| ()),
        ErrorKind::Invalid,
        ErrorCode::InvalidValue,
    );
    assert_eq!(e.param(), Some("image_file"));
    assert!(env.fake.requests("heygen").is_empty());

    // HeyGen takes JPEG and PNG, and looks at the bytes.
    for (bytes, content_type, says) in [
        (jpeg(), "image/gif", "image/jpeg or image/png"),
        (jpeg(), "image/png", "not a valid image/png"),
        (Bytes::new(), "image/jpeg", "empty"),
    ] {
        let request = PersonaRequest {
            image: Some((bytes, content_type.into())),
            ..persona_request()
        };
        let e = expect(
            env.submit_persona(&model, &request).await.map(|_| ()),
            ErrorKind::Invalid,
            ErrorCode::ProviderRejected,
        );
        assert!(e.message().contains(says), "{content_type}: {e}");
    }
}

#[tokio::test]
async fn unknown_character_types_are_refused_in_heygens_error_shape() {
    let env = env().await;
    let body = json!({
        "video_inputs": [{
            "character": {"type": "hologram", "hologram_id": "h1"},
            "voice": {"type": "text", "input_text": "Hi", "voice_id": DEFAULT_HEYGEN_VOICE},
        }],
    });
    let key = molts_fakes::key("heygen");
    let (status, answer) = post_json(
        &format!("{}/v2/video/generate", env.fake.base_url("heygen")),
        &[("x-api-key", &key)],
        &body,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"data": null, "error": {
            "code": "invalid_parameter",
            "message": "video_inputs.0.character.type is invalid",
        }})
    );
    assert!(env.fake.jobs().is_empty());
}

#[tokio::test]
async fn persona_error_matrix() {
    // 429, 500, a slow head, a wrong key (HeyGen's 401, the key not in the error), no key
    // (provider_not_configured), a malformed body and a 400 — then the upload succeeds.
    error_matrix("heygen", &model(), Op::Persona).await;
}
