//! The Shotstack fake, under `/shotstack` at the real paths: `POST /edit/{v1|stage}/render`
//! validates the edit (tracks of clips with an asset, a start and a length; a known output
//! format) and queues a render (201); `GET /edit/{v1|stage}/render/{id}` walks it through
//! queued, fetching/rendering/saving and done (its `url` served by the fake, its `duration` the
//! timeline's end) or failed. A finished render is announced to the edit's `callback` URL as
//! Shotstack does: `{"type": "edit", "action": "render", "id", "owner", "status": "done" |
//! "failed", "url", "error", "completed"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Ctx;
use crate::jobs::{Job, NewJob, Stage};
use crate::respond;

const P: &str = "shotstack";
const FORMATS: [&str; 6] = ["mp4", "gif", "jpg", "png", "bmp", "mp3"];

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    let rest = ctx
        .path
        .strip_prefix("/edit/v1/")
        .or_else(|| ctx.path.strip_prefix("/edit/stage/"))?;
    match (ctx.method.as_str(), rest) {
        ("POST", "render") => Some(render(ctx)),
        ("GET", path) => {
            let id = path.strip_prefix("render/")?;
            Some(status(ctx, id))
        }
        _ => None,
    }
}

/// The end of the timeline (seconds), or the validation message.
fn validate(edit: &Value) -> Result<f64, String> {
    let timeline = edit["timeline"]
        .as_object()
        .ok_or("\"timeline\" is required")?;
    let tracks = timeline
        .get("tracks")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or("\"timeline.tracks\" must contain at least 1 items")?;
    let mut end: f64 = 0.0;
    for (t, track) in tracks.iter().enumerate() {
        let clips = track["clips"]
            .as_array()
            .filter(|c| !c.is_empty())
            .ok_or(format!("\"timeline.tracks[{t}].clips\" is required"))?;
        for (c, clip) in clips.iter().enumerate() {
            let at = format!("timeline.tracks[{t}].clips[{c}]");
            if !clip["asset"]["type"].is_string() {
                return Err(format!("\"{at}.asset.type\" is required"));
            }
            let start = clip["start"]
                .as_f64()
                .filter(|s| *s >= 0.0)
                .ok_or(format!("\"{at}.start\" must be a number >= 0"))?;
            let length = clip["length"]
                .as_f64()
                .filter(|l| *l > 0.0)
                .ok_or(format!("\"{at}.length\" must be a positive number"))?;
            end = end.max(start + length);
        }
    }
    let format = edit["output"]["format"]
        .as_str()
        .ok_or("\"output.format\" is required")?;
    if !FORMATS.contains(&format) {
        return Err(format!(
            "\"output.format\" must be one of [{}]",
            FORMATS.join(", ")
        ));
    }
    if let Some(callback) = edit.get("callback")
        && !callback.as_str().is_some_and(|c| c.starts_with("http"))
    {
        return Err("\"callback\" must be a valid uri".to_owned());
    }
    Ok(end)
}

fn render(ctx: &Ctx) -> Response {
    let duration = match validate(&ctx.body) {
        Ok(d) => d,
        Err(message) => return respond::invalid(P, &message),
    };
    let format = ctx.body["output"]["format"].as_str().unwrap_or("mp4");
    let job = ctx.shared.jobs().submit(
        NewJob {
            provider: P,
            duration: Some(duration),
            ext: format,
            echo: json!({"text": "render", "callback": ctx.body["callback"]}),
            callback_url: ctx.body["callback"].as_str().map(str::to_owned),
            id: |n| format!("2abd5c11-0f3d-4c6d-ba20-{n:012x}"),
        },
        &ctx.fault,
    );
    (
        StatusCode::CREATED,
        axum::Json(json!({"success": true, "message": "Created", "response": {
            "message": "Render Successfully Queued", "id": job.id,
        }})),
    )
        .into_response()
}

fn status(ctx: &Ctx, id: &str) -> Response {
    let Some((stage, job)) = ctx.shared.poll_job(P, id) else {
        return respond::error(P, 404, &format!("Render '{id}' not found"));
    };
    let (status, url, error) = match stage {
        Stage::Queued => ("queued", None, String::new()),
        Stage::Processing(n) => (
            ["fetching", "rendering", "saving"][(n as usize).saturating_sub(2) % 3],
            None,
            String::new(),
        ),
        Stage::Ready => ("done", Some(job.url(&ctx.origin)), String::new()),
        Stage::Failed(message) => ("failed", None, message),
    };
    let mut response = json!({
        "id": job.id, "owner": "fake-owner", "plan": "basic", "status": status, "error": error,
        "created": "2025-01-01T00:00:00.000Z", "updated": "2025-01-01T00:00:09.000Z",
    });
    if let Some(url) = url {
        response["url"] = json!(url);
        response["duration"] = json!(job.duration);
        response["renderTime"] = json!(9433.44);
    }
    axum::Json(json!({"success": true, "message": "OK", "response": response})).into_response()
}

/// The callback Shotstack POSTs when a render finishes.
pub(crate) fn callback(job: &Job, stage: &Stage, origin: &str) -> Option<Value> {
    let (status, url, error) = match stage {
        Stage::Ready => ("done", json!(job.url(origin)), Value::Null),
        Stage::Failed(message) => ("failed", Value::Null, json!(message)),
        Stage::Queued | Stage::Processing(_) => return None,
    };
    Some(json!({
        "type": "edit", "action": "render", "id": job.id, "owner": "fake-owner",
        "status": status, "url": url, "error": error, "completed": "2025-01-01T00:00:09.000Z",
    }))
}
