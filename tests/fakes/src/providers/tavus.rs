//! The Tavus fake: `POST /v2/videos` validates the replica and the script (or audio URL) and
//! answers the queued video; `GET /v2/videos/{id}` walks it through queued, generating and
//! ready (a `download_url` served by the fake, a `hosted_url` page) or error (with
//! `status_details`). A finished video is POSTed, in the same shape, to its `callback_url`.
//!
//! Replicas (what molts makes a Tavus persona from): `POST /v2/replicas` validates the training
//! video URL (and the optional consent video, callback URL and name) and answers
//! `{"replica_id", "status": "started"}`; `GET /v2/replicas/{id}` trains it over the same polls
//! as a video (`started` with a rising `training_progress`, then `completed` at `100/100`, or
//! `error` with the `error_message`), and the finished replica is POSTed, in the same shape, to
//! its `callback_url`. Video ids start with `v`, replica ids with `r`; neither endpoint answers
//! the other's.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::jobs::{Job, NewJob, Stage};
use crate::{Ctx, respond};

const P: &str = "tavus";

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/v2/videos") => Some(create(ctx)),
        ("POST", "/v2/replicas") => Some(create_replica(ctx)),
        ("GET", path) => {
            if let Some(id) = path.strip_prefix("/v2/videos/") {
                Some(status(ctx, id))
            } else {
                let id = path.strip_prefix("/v2/replicas/")?;
                Some(replica_status(ctx, id))
            }
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
    let found = if is_replica(id) {
        None
    } else {
        ctx.shared.poll_job(P, id)
    };
    let Some((stage, job)) = found else {
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

/// What Tavus POSTs to a video's (or replica's) `callback_url` when it finishes: the video (or
/// replica) as a status poll shows it.
pub(crate) fn callback(job: &Job, stage: &Stage, origin: &str) -> Option<Value> {
    if is_replica(&job.id) {
        return matches!(stage, Stage::Ready | Stage::Failed(_)).then(|| replica(job, stage));
    }
    let (status, details) = match stage {
        Stage::Ready => ("ready", None),
        Stage::Failed(message) => ("error", Some(message.clone())),
        Stage::Queued | Stage::Processing(_) => return None,
    };
    let mut body = video_at(origin, job, status);
    body["status_details"] = json!(details);
    Some(body)
}

/// Whether `id` names a replica (the fake's replica ids start with `r`, video ids with `v`).
fn is_replica(id: &str) -> bool {
    id.starts_with('r')
}

/// The replica name, or the validation message.
fn validate_replica(body: &Value) -> Result<String, String> {
    let url = |v: &Value| {
        v.as_str()
            .is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"))
    };
    match body.get("train_video_url") {
        None | Some(Value::Null) => return Err("train_video_url is required".to_owned()),
        Some(v) if !url(v) => return Err("train_video_url must be a valid URL".to_owned()),
        Some(_) => {}
    }
    for field in ["consent_video_url", "callback_url"] {
        // Tavus' own examples send an empty callback_url for "none".
        if let Some(v) = body.get(field).filter(|v| !v.is_null() && *v != "")
            && !url(v)
        {
            return Err(format!("{field} must be a valid URL"));
        }
    }
    for field in ["replica_name", "model_name"] {
        if body.get(field).is_some_and(|v| !v.is_string()) {
            return Err(format!("{field} must be a string"));
        }
    }
    Ok(body["replica_name"].as_str().unwrap_or("").to_owned())
}

fn create_replica(ctx: &Ctx) -> Response {
    let name = match validate_replica(&ctx.body) {
        Ok(n) => n,
        Err(message) => return respond::invalid(P, &message),
    };
    let job = ctx.shared.jobs().submit(
        NewJob {
            provider: P,
            duration: None,
            // Nothing to download: a replica is an id to make videos with.
            ext: "replica",
            echo: json!({"replica_name": name, "text": name}),
            callback_url: ctx.body["callback_url"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
            id: |n| format!("r{n:09x}"),
        },
        &ctx.fault,
    );
    axum::Json(json!({"replica_id": job.id, "status": "started"})).into_response()
}

/// The replica as `GET /v2/replicas/{id}` shows it at `stage`.
fn replica(job: &Job, stage: &Stage) -> Value {
    // Training progress rises with the polls and reaches 100 only when it completes.
    let progress = |polls: u32| {
        let total = u64::from(job.ready_after.saturating_add(1));
        (u64::from(polls) * 100 / total).min(99)
    };
    let (status, training_progress, error) = match stage {
        Stage::Queued => ("started", 0, None),
        Stage::Processing(polls) => ("started", progress(polls.saturating_sub(1)), None),
        Stage::Ready => ("completed", 100, None),
        Stage::Failed(message) => ("error", progress(job.polls), Some(message.clone())),
    };
    json!({
        "replica_id": job.id,
        "replica_name": job.echo["replica_name"],
        "status": status,
        "training_progress": format!("{training_progress}/100"),
        "error_message": error,
        "thumbnail_video_url": null,
        "model_name": "phoenix-3",
        "replica_type": "user",
        "created_at": "Mon, 01 Jan 2025 00:00:00 GMT",
        "updated_at": "Mon, 01 Jan 2025 00:00:09 GMT",
    })
}

fn replica_status(ctx: &Ctx, id: &str) -> Response {
    let found = if is_replica(id) {
        ctx.shared.poll_job(P, id)
    } else {
        None
    };
    let Some((stage, job)) = found else {
        return respond::error(P, 404, "Replica not found");
    };
    axum::Json(replica(&job, &stage)).into_response()
}
