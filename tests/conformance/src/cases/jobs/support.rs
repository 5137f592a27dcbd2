//! What the job cases share: an agent with room for videos and renders, the demo request bodies,
//! a bounded poll of a job read (never a fixed sleep), and the check of a ready job's stored MP4
//! (record, bytes, SHA-256, a byte range, a signed URL, and another agent's 404s).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::CaseResult;
use crate::client::{Body, Ctx, Resp, ensure};
use crate::fixtures::Agent;

/// The longest a demo job may take to be ready: the scheduled work runs every few seconds and
/// a read checks a job that has not been looked at for a while, so this is generous.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// Pause between polls.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// A fresh agent whose tier allows plenty of videos and renders, with no rate limit.
pub(crate) async fn job_agent(ctx: &Ctx) -> Result<Agent, String> {
    let (_, agent) = ctx.new_agent().await?;
    let tier = ctx
        .new_tier(json!({"limits": {"video": {"month": 100}, "render": {"month": 100}}}))
        .await?;
    ctx.set_tier(&agent.id, &tier).await?;
    Ok(agent)
}

pub(super) fn video_body(script: &str) -> Value {
    json!({"model": "demo-video", "script": script, "aspect_ratio": "1:1"})
}

pub(super) fn render_body(text: &str) -> Value {
    json!({
        "model": "demo-render",
        "timeline": {"background": "#203040", "tracks": [{"clips": [
            {"asset": {"type": "title", "text": text}, "start": 0, "length": 1}
        ]}]},
        "output": {"format": "mp4", "resolution": "sd"},
    })
}

/// Submits a demo video and answers its id.
pub(super) async fn submit_video(ctx: &Ctx, agent: &Agent, script: &str) -> Result<String, String> {
    let r = ctx
        .post("/v1/videos/generate", Some(&agent.key), &video_body(script))
        .await?
        .expect(202)?;
    Ok(r.str_at("/video_id")?.to_owned())
}

/// Polls `path` (a job read) until `done` says the body is final, within [`READY_WITHIN`].
pub(super) async fn poll_until(
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

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Checks a ready job's artifact: its record, its bytes (a real MP4 whose size and SHA-256
/// match the record), a byte range, and that `stranger` sees none of it.
pub(super) async fn check_output(
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
