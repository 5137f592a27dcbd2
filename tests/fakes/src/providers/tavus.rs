//! The Tavus fake: `POST /v2/videos` validates the replica and the script (or audio URL) and
//! answers the queued video; `GET /v2/videos/{id}` walks it through queued, generating and
//! ready (a `download_url` served by the fake, a `hosted_url` page) or error (with
//! `status_details`). A finished video is POSTed, in the same shape, to its `callback_url`.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::jobs::{Job, NewJob, Stage};
use crate::{Ctx, respond};

const P: &str = "tavus";

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/v2/videos") => Some(create(ctx)),
        ("GET", path) => {
            let id = path.strip_prefix("/v2/videos/")?;
            Some(status(ctx, id))
        }
        _ => None,
    }
}

fn validate(body: &Value) -> Result<String, String> {
    if body["replica_id"].as_str().is_none_or(|r| r.is_empty()) {
        return Err("replica_id is required".to_owned());
    }
    let script = body["script"].as_str().filter(|s| !s.trim().is_empty());
    let audio = body["audio_url"].as_str().filter(|a| a.starts_with("http"));
    if script.is_none() && audio.is_none() {
        return Err("either script or audio_url is required".to_owned());
    }
    for field in ["video_name", "callback_url", "background_url"] {
        if body.get(field).is_some_and(|v| !v.is_string()) {
            return Err(format!("{field} must be a string"));
        }
    }
    if let Some(url) = body["callback_url"].as_str()
        && !url.starts_with("http")
    {
        return Err("callback_url must be a valid URL".to_owned());
    }
    Ok(script.unwrap_or("audio").to_owned())
}

fn video(ctx: &Ctx, job: &Job, status: &str) -> Value {
    video_at(&ctx.origin, job, status)
}

fn video_at(origin: &str, job: &Job, status: &str) -> Value {
    json!({
        "video_id": job.id,
        "video_name": job.echo["video_name"],
        "status": status,
        "hosted_url": format!("https://tavus.video/{}", job.id),
        "created_at": "Mon, 01 Jan 2025 00:00:00 GMT",
        "updated_at": "Mon, 01 Jan 2025 00:00:09 GMT",
        "download_url": (status == "ready").then(|| job.url(origin)),
        "stream_url": (status == "ready").then(|| job.url(origin)),
    })
}

fn create(ctx: &Ctx) -> Response {
    let script = match validate(&ctx.body) {
        Ok(s) => s,
        Err(message) => return respond::invalid(P, &message),
    };
    let job = ctx.shared.jobs().submit(
        NewJob {
            provider: P,
            duration: None,
            ext: "mp4",
            echo: json!({"video_name": ctx.body["video_name"], "text": script}),
            callback_url: ctx.body["callback_url"].as_str().map(str::to_owned),
            id: |n| format!("v{n:09x}"),
        },
        &ctx.fault,
    );
    axum::Json(video(ctx, &job, "queued")).into_response()
}

fn status(ctx: &Ctx, id: &str) -> Response {
    let Some((stage, job)) = ctx.shared.poll_job(P, id) else {
        return respond::error(P, 404, "Video not found");
    };
    let (status, details) = match stage {
        Stage::Queued => ("queued", None),
        Stage::Processing(_) => ("generating", None),
        Stage::Ready => ("ready", None),
        Stage::Failed(message) => ("error", Some(message)),
    };
    let mut body = video(ctx, &job, status);
    body["status_details"] = json!(details);
    axum::Json(body).into_response()
}

/// What Tavus POSTs to a video's `callback_url` when it finishes: the video as a status poll
/// shows it.
pub(crate) fn callback(job: &Job, stage: &Stage, origin: &str) -> Option<Value> {
    let (status, details) = match stage {
        Stage::Ready => ("ready", None),
        Stage::Failed(message) => ("error", Some(message.clone())),
        Stage::Queued | Stage::Processing(_) => return None,
    };
    let mut body = video_at(origin, job, status);
    body["status_details"] = json!(details);
    Some(body)
}
