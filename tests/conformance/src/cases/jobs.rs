//! Durable jobs through the offline demo models: a video and a render submitted (202), polled
//! until ready, their MP4 stored as an artifact whose bytes, size and SHA-256 agree and which
//! serves byte ranges; the seed's `/videos/...` paths; listing with pages and a status filter;
//! cancel; idempotency keys; bad input in the one error format; and provider callbacks refused
//! without the job's secret. Jobs finish whenever the server's scheduled work or a read of a
//! stale job gets to them, so every wait here is a bounded poll, never a fixed sleep.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::CaseResult;
use crate::client::{Body, Ctx, Resp, ensure};
use crate::fixtures::Agent;

use super::generation::used;

/// The longest a demo job may take to be ready: the scheduled work runs every few seconds and
/// a read checks a job that has not been looked at for a while, so this is generous.
const READY_WITHIN: Duration = Duration::from_secs(120);
/// Pause between polls.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// A fresh agent whose tier allows plenty of videos and renders, with no rate limit.
pub(super) async fn job_agent(ctx: &Ctx) -> Result<Agent, String> {
    let (_, agent) = ctx.new_agent().await?;
    let tier = ctx
        .new_tier(json!({"limits": {"video": {"month": 100}, "render": {"month": 100}}}))
        .await?;
    ctx.set_tier(&agent.id, &tier).await?;
    Ok(agent)
}

fn video_body(script: &str) -> Value {
    json!({"model": "demo-video", "script": script, "aspect_ratio": "1:1"})
}

fn render_body(text: &str) -> Value {
    json!({
        "model": "demo-render",
        "timeline": {"background": "#203040", "tracks": [{"clips": [
            {"asset": {"type": "title", "text": text}, "start": 0, "length": 1}
        ]}]},
        "output": {"format": "mp4", "resolution": "sd"},
    })
}

/// Submits a demo video and answers its id.
async fn submit_video(ctx: &Ctx, agent: &Agent, script: &str) -> Result<String, String> {
    let r = ctx
        .post("/v1/videos/generate", Some(&agent.key), &video_body(script))
        .await?
        .expect(202)?;
    Ok(r.str_at("/video_id")?.to_owned())
}

/// Polls `path` (a job read) until `done` says the body is final, within [`READY_WITHIN`].
async fn poll_until(
    ctx: &Ctx,
    key: &str,
    path: &str,
    done: impl Fn(&Value) -> bool,
) -> Result<Resp, String> {
    let started = Instant::now();
    loop {
        let r = ctx.get(path, Some(key)).await?.expect(200)?;
        if done(&r.body) {
            return Ok(r);
        }
        ensure!(
            started.elapsed() < READY_WITHIN,
            "GET {path}: not finished after {} s; last answer {}",
            READY_WITHIN.as_secs(),
            r.quote()
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Checks a ready job's artifact: its record, its bytes (a real MP4 whose size and SHA-256
/// match the record), a byte range, and that `stranger` sees none of it.
async fn check_output(
    ctx: &Ctx,
    agent: &Agent,
    stranger: &Agent,
    job_id: &str,
    artifact_id: &str,
    url: &str,
) -> CaseResult {
    let content_path = format!("/v1/artifacts/{artifact_id}/content");
    ensure!(
        url.ends_with(&content_path),
        "the job's url should end with {content_path}, got {url:?}"
    );
    let record = ctx
        .get(&format!("/v1/artifacts/{artifact_id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    record.expect_at("/id", &json!(artifact_id))?;
    record.expect_at("/kind", &json!("output"))?;
    record.expect_at("/job_id", &json!(job_id))?;
    record.expect_at("/content_type", &json!("video/mp4"))?;
    let size = record.body["size"]
        .as_u64()
        .ok_or_else(|| format!("no size in {}", record.quote()))?;
    let sha = record.str_at("/sha256")?.to_owned();

    let whole = ctx
        .get(&content_path, Some(&agent.key))
        .await?
        .expect(200)?;
    let bytes = &whole.bytes;
    ensure!(
        bytes.len() > 1000 && bytes.get(4..8) == Some(&b"ftyp"[..]),
        "GET {content_path}: expected an MP4 (an ftyp box first), got {} bytes starting {:?}",
        bytes.len(),
        &bytes[..bytes.len().min(16)]
    );
    ensure!(
        bytes.len() as u64 == size,
        "GET {content_path}: {} bytes, the record says {size}",
        bytes.len()
    );
    ensure!(
        sha256_hex(bytes) == sha,
        "GET {content_path}: the bytes' SHA-256 is {}, the record says {sha}",
        sha256_hex(bytes)
    );
    ensure!(
        whole
            .header("content-type")
            .is_some_and(|c| c.starts_with("video/mp4")),
        "GET {content_path}: content-type {:?}",
        whole.header("content-type")
    );

    let part = ctx
        .send_with(
            Method::GET,
            &content_path,
            Some(format!("Bearer {}", agent.key)),
            Body::Empty,
            &[("range", "bytes=4-103")],
        )
        .await?
        .expect(206)?;
    let expected_range = format!("bytes 4-103/{size}");
    ensure!(
        part.header("content-range") == Some(expected_range.as_str()),
        "GET {content_path} with Range: expected content-range {expected_range:?}, got {:?}",
        part.header("content-range")
    );
    ensure!(
        part.bytes == bytes[4..104],
        "GET {content_path} with Range bytes=4-103: the 100 bytes do not match the whole file's"
    );

    let signed = ctx
        .post(
            &format!("/v1/artifacts/{artifact_id}/url"),
            Some(&agent.key),
            &json!({"expires_in": 600}),
        )
        .await?
        .expect(200)?;
    ensure!(
        signed.body["url"].is_string() && signed.body["signed"].is_boolean(),
        "POST /v1/artifacts/{{id}}/url: expected {{url, signed}}, got {}",
        signed.quote()
    );

    for path in [
        format!("/v1/artifacts/{artifact_id}"),
        content_path.clone(),
        format!("/v1/jobs/{job_id}"),
    ] {
        ctx.get(&path, Some(&stranger.key))
            .await?
            .expect_error(404, None)?;
    }
    ctx.post(
        &format!("/v1/artifacts/{artifact_id}/url"),
        Some(&stranger.key),
        &json!({}),
    )
    .await?
    .expect_error(404, None)?;
    let theirs = ctx
        .get("/v1/artifacts", Some(&stranger.key))
        .await?
        .expect(200)?
        .list_ids()?;
    ensure!(
        !theirs.contains(&artifact_id.to_owned()),
        "another agent's artifact list shows {artifact_id}"
    );
    Ok(())
}

/// A demo video: 202 processing, then ready with a stored MP4 that is served whole and by
/// range; one video charged; another agent gets 404 for the video and its artifact.
pub(super) async fn video(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let stranger = job_agent(ctx).await?;
    let script = "Hello from the conformance suite.";
    let r = ctx
        .post("/v1/videos/generate", Some(&agent.key), &video_body(script))
        .await?
        .expect(202)?;
    let id = r.str_at("/video_id")?.to_owned();
    ensure!(
        id.starts_with("job_"),
        "video_id should be a job id: {}",
        r.quote()
    );
    r.expect_at("/status", &json!("processing"))?;
    r.expect_at("/script", &json!(script))?;
    r.expect_at("/model", &json!("demo-video"))?;
    r.expect_at("/agent/id", &json!(agent.id))?;
    ensure!(
        r.body["url"].is_null(),
        "a new video has no url yet: {}",
        r.quote()
    );

    let path = format!("/v1/videos/{id}");
    let done = poll_until(ctx, &agent.key, &path, |b| b["status"] != "processing").await?;
    done.expect_at("/status", &json!("ready"))?;
    done.expect_at("/job_status", &json!("ready"))?;
    ensure!(
        done.body["duration"].as_f64().is_some_and(|d| d > 0.0),
        "a ready video has a duration: {}",
        done.quote()
    );
    let artifact = done.str_at("/artifact_id")?.to_owned();
    let url = done.str_at("/url")?.to_owned();

    let job = ctx
        .get(&format!("/v1/jobs/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    job.expect_at("/kind", &json!("video"))?;
    job.expect_at("/status", &json!("ready"))?;
    job.expect_at("/artifact_id", &json!(artifact))?;

    check_output(ctx, &agent, &stranger, &id, &artifact, &url).await?;
    ctx.get(&path, Some(&stranger.key))
        .await?
        .expect_error(404, Some("not_found"))?;
    let charged = used(ctx, &agent.key, "video").await?;
    ensure!(
        charged == 1,
        "one ready video should charge 1 video, got {charged}"
    );
    Ok(())
}

/// The seed's paths: `POST /videos/generate` and `GET /videos/{id}` answer the same jobs, in
/// the seed's shape, as the `/v1` paths do.
pub(super) async fn video_seed_paths(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let r = ctx
        .post(
            "/videos/generate",
            Some(&agent.key),
            &video_body("Seed path video."),
        )
        .await?
        .expect(202)?;
    let id = r.str_at("/video_id")?.to_owned();
    for key in [
        "video_id",
        "status",
        "script",
        "url",
        "duration",
        "created_at",
        "agent",
    ] {
        ensure!(
            r.body.get(key).is_some(),
            "POST /videos/generate: the seed's field {key} is missing: {}",
            r.quote()
        );
    }
    let seed = ctx
        .get(&format!("/videos/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    seed.expect_at("/video_id", &json!(id))?;
    seed.expect_at("/script", &json!("Seed path video."))?;
    ensure!(
        ["processing", "ready"].contains(&seed.str_at("/status")?),
        "GET /videos/{{id}}: status should be processing or ready: {}",
        seed.quote()
    );
    let v1 = ctx
        .get(&format!("/v1/videos/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    v1.expect_at("/video_id", &json!(id))?;
    ctx.get("/videos/job_doesnotexist", Some(&agent.key))
        .await?
        .expect_error(404, None)?;
    ctx.get(&format!("/videos/{id}"), None)
        .await?
        .expect_error(401, None)?;
    Ok(())
}

/// A demo render: 202 with the job, ready with an MP4 artifact; one render charged; a render
/// is not a video (`GET /v1/videos/{render id}` is 404).
pub(super) async fn render(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let stranger = job_agent(ctx).await?;
    let r = ctx
        .post("/v1/renders", Some(&agent.key), &render_body("conformance"))
        .await?
        .expect(202)?;
    let id = r.str_at("/id")?.to_owned();
    r.expect_at("/kind", &json!("render"))?;
    r.expect_at("/model", &json!("demo-render"))?;
    ensure!(
        ["queued", "processing"].contains(&r.str_at("/status")?),
        "a new render is queued or processing: {}",
        r.quote()
    );
    let path = format!("/v1/renders/{id}");
    let done = poll_until(ctx, &agent.key, &path, |b| {
        !matches!(b["status"].as_str(), Some("queued" | "processing"))
    })
    .await?;
    done.expect_at("/status", &json!("ready"))?;
    let artifact = done.str_at("/artifact_id")?.to_owned();
    let url = done.str_at("/url")?.to_owned();
    check_output(ctx, &agent, &stranger, &id, &artifact, &url).await?;
    ctx.get(&format!("/v1/videos/{id}"), Some(&agent.key))
        .await?
        .expect_error(404, None)?;
    ctx.get(&path, Some(&stranger.key))
        .await?
        .expect_error(404, None)?;
    let charged = used(ctx, &agent.key, "render").await?;
    ensure!(
        charged == 1,
        "one ready render should charge 1 render, got {charged}"
    );
    let videos = used(ctx, &agent.key, "video").await?;
    ensure!(videos == 0, "a render charged {videos} video");
    Ok(())
}

/// `GET /v1/jobs`: newest first, pages of `limit` with `has_more` and `before`, filters by
/// status and kind; bad filters are 400.
pub(super) async fn list(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(submit_video(ctx, &agent, &format!("Listed video {n}.")).await?);
    }
    let canceled = ids[1].clone();
    let cancel = ctx
        .post(
            &format!("/v1/jobs/{canceled}/cancel"),
            Some(&agent.key),
            &json!({}),
        )
        .await?;
    // The cancel may lose to the job finishing first (409); the filter must agree either way.
    let was_canceled = cancel.status == 200;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let first = ctx
        .get("/v1/jobs?limit=2", Some(&agent.key))
        .await?
        .expect(200)?;
    let page1 = first.list_ids()?;
    first.expect_at("/has_more", &json!(true))?;
    ensure!(
        page1 == newest_first[..2],
        "GET /v1/jobs?limit=2: expected {:?} (newest first), got {page1:?}",
        &newest_first[..2]
    );
    let second = ctx
        .get(
            &format!("/v1/jobs?limit=2&before={}", page1[1]),
            Some(&agent.key),
        )
        .await?
        .expect(200)?;
    let page2 = second.list_ids()?;
    second.expect_at("/has_more", &json!(false))?;
    ensure!(
        page2 == newest_first[2..],
        "the second page should hold {:?}, got {page2:?}",
        &newest_first[2..]
    );
    let all = ctx.get("/v1/jobs", Some(&agent.key)).await?.expect(200)?;
    ensure!(
        all.list_ids()? == newest_first,
        "GET /v1/jobs: expected {newest_first:?}, got {}",
        all.quote()
    );
    for item in all.array_at("/data")? {
        ensure!(
            item["kind"] == "video" && item["agent"]["id"] == agent.id.as_str(),
            "GET /v1/jobs: unexpected item {item}"
        );
    }

    // Jobs move on meanwhile, so each filter is checked against what it answers.
    for status in ["canceled", "ready", "processing", "failed"] {
        let r = ctx
            .get(&format!("/v1/jobs?status={status}"), Some(&agent.key))
            .await?
            .expect(200)?;
        for item in r.array_at("/data")? {
            ensure!(
                item["status"] == status && ids.iter().any(|id| item["id"] == id.as_str()),
                "GET /v1/jobs?status={status}: unexpected item {item}"
            );
        }
        if status == "canceled" {
            let found = r.list_ids()?;
            let expected = if was_canceled {
                vec![canceled.clone()]
            } else {
                Vec::new()
            };
            ensure!(
                found == expected,
                "GET /v1/jobs?status=canceled: expected {expected:?}, got {found:?}"
            );
        }
    }
    let renders = ctx
        .get("/v1/jobs?kind=render", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        renders.list_ids()?.is_empty(),
        "GET /v1/jobs?kind=render: expected none, got {}",
        renders.quote()
    );
    for bad in [
        "/v1/jobs?status=done",
        "/v1/jobs?kind=song",
        "/v1/jobs?colour=red",
    ] {
        ctx.get(bad, Some(&agent.key))
            .await?
            .expect_error(400, None)?;
    }
    let stranger = job_agent(ctx).await?;
    let theirs = ctx
        .get("/v1/jobs", Some(&stranger.key))
        .await?
        .expect(200)?;
    ensure!(
        theirs.list_ids()?.is_empty(),
        "another agent's GET /v1/jobs shows jobs: {}",
        theirs.quote()
    );
    Ok(())
}

/// Cancel: 200 `canceled` and refunded, then 409 `job_finished`; the video reads as failed
/// (the seed knew no canceled state) with `job_status: canceled`.
pub(super) async fn cancel(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    // A demo job can finish as soon as the scheduled work sees it; if it wins, try another.
    let mut canceled = None;
    for n in 0..3 {
        let id = submit_video(ctx, &agent, &format!("Cancel me {n}.")).await?;
        let r = ctx
            .post(
                &format!("/v1/jobs/{id}/cancel"),
                Some(&agent.key),
                &json!({}),
            )
            .await?;
        if r.status == 200 {
            r.expect_at("/status", &json!("canceled"))?;
            r.expect_at("/id", &json!(id))?;
            ensure!(
                r.body["finished_at"].is_string(),
                "a canceled job has finished_at: {}",
                r.quote()
            );
            canceled = Some(id);
            break;
        }
        r.expect_error(409, Some("job_finished"))?;
    }
    let id = canceled.ok_or("three demo jobs all finished before they could be canceled")?;
    let again = ctx
        .post(
            &format!("/v1/jobs/{id}/cancel"),
            Some(&agent.key),
            &json!({}),
        )
        .await?
        .expect_error(409, Some("job_finished"))?;
    again.expect_at("/error/type", &json!("invalid_request_error"))?;
    let video = ctx
        .get(&format!("/v1/videos/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    video.expect_at("/status", &json!("failed"))?;
    video.expect_at("/job_status", &json!("canceled"))?;
    let ready = ctx
        .get("/v1/jobs?status=ready", Some(&agent.key))
        .await?
        .expect(200)?
        .list_ids()?
        .len() as u64;
    let charged = used(ctx, &agent.key, "video").await?;
    ensure!(
        charged == ready,
        "a canceled job is refunded: {charged} videos charged for {ready} ready"
    );
    let stranger = job_agent(ctx).await?;
    ctx.post(
        &format!("/v1/jobs/{id}/cancel"),
        Some(&stranger.key),
        &json!({}),
    )
    .await?
    .expect_error(404, None)?;
    ctx.post(
        "/v1/jobs/job_doesnotexist/cancel",
        Some(&agent.key),
        &json!({}),
    )
    .await?
    .expect_error(404, None)?;
    Ok(())
}

/// `Idempotency-Key`: a retry answers the same job with `idempotent-replayed: true` and
/// charges once; the same key with another body is 409.
pub(super) async fn idempotency(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let key = ctx.unique("idem");
    let submit = |body: Value| {
        let key = key.clone();
        let auth = format!("Bearer {}", agent.key);
        async move {
            ctx.send_with(
                Method::POST,
                "/v1/videos/generate",
                Some(auth),
                Body::Json(&body),
                &[("idempotency-key", key.as_str())],
            )
            .await
        }
    };
    let first = submit(video_body("Exactly once.")).await?.expect(202)?;
    let id = first.str_at("/video_id")?.to_owned();
    ensure!(
        first.header("idempotent-replayed").is_none(),
        "a first submission is not a replay: {:?}",
        first.header("idempotent-replayed")
    );
    let again = submit(video_body("Exactly once.")).await?.expect(202)?;
    again.expect_at("/video_id", &json!(id))?;
    ensure!(
        again.header("idempotent-replayed") == Some("true"),
        "a replay answers idempotent-replayed: true, got {:?}",
        again.header("idempotent-replayed")
    );
    let charged = used(ctx, &agent.key, "video").await?;
    ensure!(
        charged == 1,
        "two submissions with one key charged {charged} videos"
    );
    let jobs = ctx
        .get("/v1/jobs", Some(&agent.key))
        .await?
        .expect(200)?
        .list_ids()?;
    ensure!(jobs == [id.clone()], "one key, one job: got {jobs:?}");

    let other = submit(video_body("Something else.")).await?;
    other.expect_error(409, Some("idempotency_key_reused"))?;

    // Renders take keys too, and a key is the agent's own.
    let stranger = job_agent(ctx).await?;
    let theirs = ctx
        .send_with(
            Method::POST,
            "/v1/videos/generate",
            Some(format!("Bearer {}", stranger.key)),
            Body::Json(&video_body("Exactly once.")),
            &[("idempotency-key", key.as_str())],
        )
        .await?
        .expect(202)?;
    ensure!(
        theirs.str_at("/video_id")? != id,
        "another agent's same key made the same job"
    );
    Ok(())
}

/// Bad submissions are 400s in the one error format and store and charge nothing.
pub(super) async fn bad_input(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let cases: [(&str, Value, &str, Option<&str>); 8] = [
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "   "}),
            "invalid_value",
            Some("script"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video"}),
            "invalid_value",
            None,
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "Hi", "aspect_ratio": "2:1"}),
            "invalid_value",
            Some("aspect_ratio"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "Hi", "scirpt": "typo"}),
            "unknown_field",
            Some("scirpt"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "Hi", "webhook_url": "http://169.254.169.254/latest/meta-data"}),
            "webhook_url_refused",
            Some("webhook_url"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-video", "script": "Hi", "webhook_url": "not a url"}),
            "webhook_url_refused",
            Some("webhook_url"),
        ),
        (
            "/v1/renders",
            json!({"model": "demo-render", "timeline": {"tracks": []}}),
            "invalid_value",
            Some("timeline"),
        ),
        (
            "/v1/videos/generate",
            json!({"model": "demo-image", "script": "Hi"}),
            "",
            None,
        ),
    ];
    for (path, body, code, param) in cases {
        let r = ctx.post(path, Some(&agent.key), &body).await?;
        let r = if code.is_empty() {
            // A model of another kind: refused, whatever the code.
            ensure!(
                r.status == 400 || r.status == 404,
                "POST {path} {body}: expected 400 or 404, got {}",
                r.quote()
            );
            r.check_error_shape()?;
            continue;
        } else {
            r.expect_error(400, Some(code))?
        };
        if let Some(p) = param {
            r.expect_at("/error/param", &json!(p))?;
        }
    }
    let r = ctx
        .send_with(
            Method::POST,
            "/v1/videos/generate",
            Some(format!("Bearer {}", agent.key)),
            Body::Json(&video_body("Hi")),
            &[("idempotency-key", "")],
        )
        .await?;
    r.expect_error(400, None)?;
    let jobs = ctx
        .get("/v1/jobs", Some(&agent.key))
        .await?
        .expect(200)?
        .list_ids()?;
    ensure!(jobs.is_empty(), "refused submissions stored jobs: {jobs:?}");
    for unit in ["video", "render"] {
        let charged = used(ctx, &agent.key, unit).await?;
        ensure!(charged == 0, "refused submissions charged {charged} {unit}");
    }
    ctx.post("/v1/videos/generate", None, &video_body("Hi"))
        .await?
        .expect_error(401, None)?;
    Ok(())
}

/// Provider callbacks need the job's secret: a wrong token, an unknown job or an unsigned
/// HeyGen event are 401 in the error format and change nothing.
pub(super) async fn callbacks_refused(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let id = submit_video(ctx, &agent, "Nobody may call back for me.").await?;
    let before = ctx
        .get(&format!("/v1/jobs/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    let wrong = "0".repeat(64);
    for path in [
        format!("/v1/callbacks/{id}/{wrong}"),
        format!("/v1/callbacks/{id}/short"),
        format!("/v1/callbacks/job_doesnotexist/{wrong}"),
    ] {
        let r = ctx
            .post(&path, None, &json!({"status": "done"}))
            .await?
            .expect_error(401, None)?;
        r.expect_at("/error/type", &json!("authentication_error"))?;
    }
    let event = json!({"event_type": "avatar_video.success", "event_data": {
        "video_id": "v1", "url": "https://example.com/v.mp4", "callback_id": id,
    }});
    ctx.post("/v1/callbacks/heygen", None, &event)
        .await?
        .expect_error(401, None)?;
    ctx.send_with(
        Method::POST,
        "/v1/callbacks/heygen",
        None,
        Body::Json(&event),
        &[("signature", &"ab".repeat(32))],
    )
    .await?
    .expect_error(401, None)?;
    let after = ctx
        .get(&format!("/v1/jobs/{id}"), Some(&agent.key))
        .await?
        .expect(200)?;
    // The job may have moved on by itself meanwhile; a refused callback must not have failed it.
    ensure!(
        after.body["status"] == before.body["status"] || after.body["status"] == "ready",
        "refused callbacks changed the job: {} then {}",
        before.quote(),
        after.quote()
    );
    Ok(())
}

/// Personas: registration can start one (a photo as base64, with the demo provider), it becomes
/// ready, is listed, is free, and later videos use it; a persona without a source is a 400;
/// registration still succeeds (and returns the key) when the persona cannot be started.
pub(super) async fn personas(ctx: &Ctx) -> CaseResult {
    use base64::Engine;
    let instance = ctx.new_instance("inst", Value::Null).await?;
    let photo = base64::engine::general_purpose::STANDARD.encode(b"a tiny persona photo");
    let body = json!({
        "name": ctx.unique("agent"),
        "email": ctx.email(),
        "instance": instance,
        "persona": {"model": "demo-video", "image_base64": photo, "image_content_type": "image/png"},
    });
    let r = ctx
        .post("/v1/agents/register", None, &body)
        .await?
        .expect(201)?;
    let agent = Agent::from_registered(&r)?;
    r.expect_at("/persona/kind", &json!("persona"))?;
    let id = r.str_at("/persona/id")?.to_owned();
    let ready = poll_until(ctx, &agent.key, &format!("/v1/jobs/{id}"), |b| {
        b["status"] != "queued" && b["status"] != "processing"
    })
    .await?;
    ready.expect_at("/status", &json!("ready"))?;
    let listed = ctx
        .get("/v1/personas", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        listed.body["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|p| p["id"] == json!(id))),
        "GET /v1/personas does not list {id}: {}",
        listed.quote()
    );
    let videos = used(ctx, &agent.key, "video").await?;
    ensure!(
        videos == 0,
        "a persona is free, but {videos} videos are counted"
    );
    // The uploaded photo is kept as the agent's file.
    ctx.get("/v1/files/persona-photo", Some(&agent.key))
        .await?
        .expect(200)?;

    ctx.post(
        "/v1/personas",
        Some(&agent.key),
        &json!({"model": "demo-video"}),
    )
    .await?
    .expect_error(400, None)?;
    ctx.post(
        "/v1/personas",
        Some(&agent.key),
        &json!({"video_url": "ftp://example.com/me.mp4"}),
    )
    .await?
    .expect_error(400, None)?;

    // A persona that cannot start does not cost the registration its key.
    let body = json!({
        "name": ctx.unique("agent"),
        "email": ctx.email(),
        "instance": instance,
        "persona": {"model": "demo-video"},
    });
    let r = ctx
        .post("/v1/agents/register", None, &body)
        .await?
        .expect(201)?;
    Agent::from_registered(&r)?;
    ensure!(
        r.body["persona"]["error"]["message"].is_string(),
        "registration with an unusable persona reports why: {}",
        r.quote()
    );
    Ok(())
}

/// The agent's webhook endpoint: a `whsec_` secret made on first read, internal URLs refused,
/// a public URL kept, the secret rotated on request, and the delivery log (own jobs only).
pub(super) async fn webhook_endpoint(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let (_, other) = ctx.new_agent().await?;
    let first = ctx
        .get("/v1/webhook", Some(&agent.key))
        .await?
        .expect(200)?;
    let secret = first.str_at("/secret")?.to_owned();
    ensure!(secret.starts_with("whsec_"), "secret: {}", first.quote());
    ctx.put(
        "/v1/webhook",
        Some(&agent.key),
        &json!({"url": "http://169.254.169.254/latest/meta-data"}),
    )
    .await?
    .expect_error(400, Some("webhook_url_refused"))?;
    let set = ctx
        .put(
            "/v1/webhook",
            Some(&agent.key),
            &json!({"url": "https://hooks.example.com/molts"}),
        )
        .await?
        .expect(200)?;
    set.expect_at("/url", &json!("https://hooks.example.com/molts"))?;
    set.expect_at("/secret", &json!(secret))?;
    let rotated = ctx
        .put(
            "/v1/webhook",
            Some(&agent.key),
            &json!({"url": null, "rotate_secret": true}),
        )
        .await?
        .expect(200)?;
    rotated.expect_at("/url", &Value::Null)?;
    ensure!(
        rotated.str_at("/secret")? != secret,
        "rotate_secret made no new secret: {}",
        rotated.quote()
    );
    let log = ctx
        .get("/v1/webhook/deliveries", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(log.body["data"].is_array(), "deliveries: {}", log.quote());
    let id = submit_video(ctx, &agent, "Whose deliveries?").await?;
    ctx.get(
        &format!("/v1/webhook/deliveries?job_id={id}"),
        Some(&other.key),
    )
    .await?
    .expect_error(404, None)?;
    Ok(())
}
