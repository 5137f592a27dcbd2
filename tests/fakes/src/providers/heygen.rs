//! The HeyGen fake: `POST /v2/video/generate` validates the scenes (an avatar character, a text
//! voice with its voice id, an optional dimension) and answers `{"error":null,"data":
//! {"video_id"}}`; `GET /v1/video_status.get?video_id=` walks the video through pending,
//! processing and completed (a `video_url` served by the fake, a `duration` from the script) or
//! failed (`error {code, detail, message}`), echoing the `callback_id`. A finished video is
//! announced as HeyGen does: `{"event_type": "avatar_video.success" | "avatar_video.fail",
//! "event_data": {"video_id", "url" | "msg", "callback_id"}}` (see [`crate::callbacks`]).
//!
//! Talking photos (what molts makes a HeyGen persona from): `POST /v1/talking_photo` — on
//! `upload.heygen.com` at HeyGen, under the same `/heygen` prefix here — takes the raw JPEG or
//! PNG bytes as the body with the image's `Content-Type` and answers `{"code": 100, "data":
//! {"talking_photo_id", "talking_photo_url"}, "msg": null}` at once. A scene's character is then
//! `{"type": "talking_photo", "talking_photo_id"}`, which must name a photo this fake accepted.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::jobs::{Job, NewJob, Stage};
use crate::{Ctx, media, respond};

const P: &str = "heygen";

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/v2/video/generate") => Some(generate(ctx)),
        ("POST", "/v1/talking_photo") => Some(talking_photo(ctx)),
        ("GET", "/v1/video_status.get") => Some(status(ctx)),
        _ => None,
    }
}

/// The script of every scene, or the validation message; `photos` are the talking photos the
/// fake holds.
fn validate(body: &Value, photos: &[String]) -> Result<String, String> {
    let scenes = body["video_inputs"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or("video_inputs is invalid: field required")?;
    if scenes.len() > 50 {
        return Err("video_inputs is invalid: at most 50 scenes".to_owned());
    }
    let mut script = Vec::new();
    for (i, scene) in scenes.iter().enumerate() {
        let character = &scene["character"];
        match character["type"].as_str() {
            Some("avatar") => {
                if character["avatar_id"].as_str().is_none_or(|a| a.is_empty()) {
                    return Err(format!(
                        "video_inputs.{i}.character.avatar_id is invalid: field required"
                    ));
                }
            }
            Some("talking_photo") => {
                let Some(id) = character["talking_photo_id"].as_str() else {
                    return Err(format!(
                        "video_inputs.{i}.character.talking_photo_id is invalid: field required"
                    ));
                };
                if !photos.iter().any(|p| p == id) {
                    return Err(format!(
                        "video_inputs.{i}.character.talking_photo_id is invalid: talking photo \
                         {} not found",
                        id.chars().take(64).collect::<String>()
                    ));
                }
            }
            _ => return Err(format!("video_inputs.{i}.character.type is invalid")),
        }
        let voice = &scene["voice"];
        match voice["type"].as_str() {
            Some("text") => {
                let text = voice["input_text"]
                    .as_str()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or(format!(
                        "video_inputs.{i}.voice.input_text is invalid: field required"
                    ))?;
                if text.chars().count() > 5000 {
                    return Err(format!(
                        "video_inputs.{i}.voice.input_text is invalid: at most 5000 characters"
                    ));
                }
                if voice["voice_id"].as_str().is_none_or(|v| v.is_empty()) {
                    return Err(format!(
                        "video_inputs.{i}.voice.voice_id is invalid: field required"
                    ));
                }
                script.push(text.to_owned());
            }
            Some("silence") => {}
            _ => return Err(format!("video_inputs.{i}.voice.type is invalid")),
        }
    }
    if let Some(d) = body.get("dimension") {
        let side = |v: &Value| v.as_u64().is_some_and(|n| (128..=4096).contains(&n));
        if !side(&d["width"]) || !side(&d["height"]) {
            return Err("dimension is invalid: width and height must be 128-4096".to_owned());
        }
    }
    for field in ["callback_id", "callback_url", "title"] {
        if body.get(field).is_some_and(|v| !v.is_string()) {
            return Err(format!("{field} is invalid: must be a string"));
        }
    }
    Ok(script.join(" "))
}

fn generate(ctx: &Ctx) -> Response {
    let checked = validate(&ctx.body, &ctx.shared.talking_photos());
    let script = match checked {
        Ok(s) => s,
        Err(message) => return respond::invalid(P, &message),
    };
    let seconds = (media::speech_seconds(&script) * 10.0).round() / 10.0;
    let job = ctx.shared.jobs().submit(
        NewJob {
            provider: P,
            duration: Some(seconds),
            ext: "mp4",
            echo: json!({"callback_id": ctx.body["callback_id"], "text": script}),
            callback_url: ctx.body["callback_url"].as_str().map(str::to_owned),
            id: |n| format!("{:032x}", 0x5eed_0000_u64 + n),
        },
        &ctx.fault,
    );
    axum::Json(json!({"error": null, "data": {"video_id": job.id}})).into_response()
}

/// Photo uploads HeyGen takes, by content type, with the magic number the bytes start with.
const PHOTO_TYPES: [(&str, &[u8]); 2] = [
    ("image/jpeg", &[0xff, 0xd8, 0xff]),
    ("image/png", b"\x89PNG\r\n\x1a\n"),
];

/// `POST /v1/talking_photo`: the photo's bytes in, its talking photo id out.
fn talking_photo(ctx: &Ctx) -> Response {
    let content_type = ctx
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let Some((_, magic)) = PHOTO_TYPES.iter().find(|(t, _)| *t == content_type) else {
        return respond::invalid(
            P,
            "Content-Type is invalid: the photo must be image/jpeg or image/png",
        );
    };
    if ctx.raw.is_empty() {
        return respond::invalid(P, "the photo is empty");
    }
    if !ctx.raw.starts_with(magic) {
        return respond::invalid(P, &format!("the photo is not a valid {content_type} image"));
    }
    let id = {
        let mut photos = ctx.shared.talking_photos();
        let id = format!("{:032x}", 0x7a1c_0000_u64 + photos.len() as u64 + 1);
        photos.push(id.clone());
        id
    };
    let ext = if content_type == "image/png" {
        "png"
    } else {
        "jpg"
    };
    axum::Json(json!({"code": 100, "data": {
        "talking_photo_id": id,
        "talking_photo_url": format!("https://files.heygen.ai/talking_photo/{id}.{ext}"),
    }, "msg": null}))
    .into_response()
}

fn status(ctx: &Ctx) -> Response {
    let Some(id) = ctx.query.get("video_id").filter(|v| !v.is_empty()) else {
        return respond::invalid(P, "video_id is invalid: field required");
    };
    let Some((stage, job)) = ctx.shared.poll_job(P, id) else {
        return respond::error(P, 404, &format!("video {id} not found"));
    };
    let mut data = json!({
        "id": job.id, "callback_id": job.echo["callback_id"], "created_at": 1_700_000_000,
        "video_url": null, "thumbnail_url": null, "duration": null, "error": null,
    });
    let status = match stage {
        Stage::Queued => "pending",
        Stage::Processing(_) => "processing",
        Stage::Ready => {
            data["video_url"] = json!(job.url(&ctx.origin));
            data["thumbnail_url"] = json!(format!("{}/_fake/images/000000.png", ctx.origin));
            data["duration"] = json!(job.duration);
            "completed"
        }
        Stage::Failed(message) => {
            data["error"] = json!({"code": "fake_failure", "detail": message, "message": message});
            "failed"
        }
    };
    data["status"] = json!(status);
    axum::Json(json!({"code": 100, "message": "Success", "data": data})).into_response()
}

/// The event HeyGen sends when a video finishes.
pub(crate) fn callback(job: &Job, stage: &Stage, origin: &str) -> Option<Value> {
    let callback_id = &job.echo["callback_id"];
    Some(match stage {
        Stage::Ready => json!({"event_type": "avatar_video.success", "event_data": {
            "video_id": job.id, "url": job.url(origin), "callback_id": callback_id,
        }}),
        Stage::Failed(message) => json!({"event_type": "avatar_video.fail", "event_data": {
            "video_id": job.id, "msg": message, "callback_id": callback_id,
        }}),
        Stage::Queued | Stage::Processing(_) => return None,
    })
}
