//! Agents' own files: `PUT /v1/files/{name}` stores numbered versions, reads answer the latest
//! or the version asked for, bytes round-trip exactly (whole and by range), lists show every
//! version, and other agents see none of it.

use reqwest::Method;
use serde_json::json;

use crate::CaseResult;
use crate::client::{Body, Ctx, Resp, ensure};
use crate::fixtures::Agent;

use super::jobs::{job_agent, sha256_hex};

async fn put(ctx: &Ctx, agent: &Agent, name: &str, content: &[u8]) -> Result<Resp, String> {
    ctx.send(
        Method::PUT,
        &format!("/v1/files/{name}"),
        Some(&agent.key),
        Body::Raw(Some("text/markdown"), content.to_vec()),
    )
    .await
}

async fn get_range(ctx: &Ctx, agent: &Agent, path: &str, range: &str) -> Result<Resp, String> {
    ctx.send_with(
        Method::GET,
        path,
        Some(format!("Bearer {}", agent.key)),
        Body::Empty,
        &[("range", range)],
    )
    .await
}

/// `SOUL.md` uploaded twice: versions 1 and 2, the latest by default, `?version=1` on
/// request, exact bytes and SHA-256, byte ranges (206, and 416 past the end), a list of both.
pub(super) async fn versions(ctx: &Ctx) -> CaseResult {
    let agent = job_agent(ctx).await?;
    let stranger = job_agent(ctx).await?;
    let v1: &[u8] = b"# Ada\nI make short films.\n";
    let v2: &[u8] = b"# Ada\nI make short films, and now documentaries too.\n";

    let first = put(ctx, &agent, "SOUL.md", v1).await?.expect(201)?;
    first.expect_at("/name", &json!("SOUL.md"))?;
    first.expect_at("/version", &json!(1))?;
    first.expect_at("/kind", &json!("upload"))?;
    first.expect_at("/size", &json!(v1.len()))?;
    first.expect_at("/sha256", &json!(sha256_hex(v1)))?;
    let second = put(ctx, &agent, "SOUL.md", v2).await?.expect(201)?;
    second.expect_at("/version", &json!(2))?;
    let (id1, id2) = (
        first.str_at("/id")?.to_owned(),
        second.str_at("/id")?.to_owned(),
    );
    ensure!(id1 != id2, "two versions share the id {id1}");

    let latest = ctx
        .get("/v1/files/SOUL.md", Some(&agent.key))
        .await?
        .expect(200)?;
    latest.expect_at("/version", &json!(2))?;
    latest.expect_at("/id", &json!(id2))?;
    let content = ctx
        .get("/v1/files/SOUL.md/content", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        content.bytes == v2,
        "GET /v1/files/SOUL.md/content: expected version 2's bytes, got {:?}",
        content.text
    );
    ensure!(
        content
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/markdown")),
        "the upload's content type should be kept, got {:?}",
        content.header("content-type")
    );
    let old = ctx
        .get("/v1/files/SOUL.md/content?version=1", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        old.bytes == v1,
        "GET /v1/files/SOUL.md/content?version=1: expected version 1's bytes, got {:?}",
        old.text
    );
    let old_record = ctx
        .get("/v1/files/SOUL.md?version=1", Some(&agent.key))
        .await?
        .expect(200)?;
    old_record.expect_at("/id", &json!(id1))?;
    ctx.get("/v1/files/SOUL.md?version=3", Some(&agent.key))
        .await?
        .expect_error(404, None)?;
    let by_id = ctx
        .get(&format!("/v1/artifacts/{id1}/content"), Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        by_id.bytes == v1,
        "the artifact's content is not version 1's bytes"
    );

    let part = get_range(ctx, &agent, "/v1/files/SOUL.md/content", "bytes=2-4")
        .await?
        .expect(206)?;
    ensure!(
        part.bytes == v2[2..5],
        "Range bytes=2-4: expected {:?}, got {:?}",
        &v2[2..5],
        part.bytes
    );
    let expected_range = format!("bytes 2-4/{}", v2.len());
    ensure!(
        part.header("content-range") == Some(expected_range.as_str()),
        "expected content-range {expected_range:?}, got {:?}",
        part.header("content-range")
    );
    let past_end = format!("bytes={}-", v2.len() + 10);
    let refused = get_range(ctx, &agent, "/v1/files/SOUL.md/content", &past_end).await?;
    ensure!(
        refused.status == 416,
        "Range past the end: expected 416, got {}",
        refused.quote()
    );
    let unsatisfied = format!("bytes */{}", v2.len());
    ensure!(
        refused.header("content-range") == Some(unsatisfied.as_str()),
        "a 416 says the size: expected content-range {unsatisfied:?}, got {:?}",
        refused.header("content-range")
    );

    put(ctx, &agent, "notes.txt", b"other file")
        .await?
        .expect(201)?;
    let listed = ctx.get("/v1/files", Some(&agent.key)).await?.expect(200)?;
    let ids = listed.list_ids()?;
    for id in [&id1, &id2] {
        ensure!(
            ids.contains(id),
            "GET /v1/files should list {id}: {}",
            listed.quote()
        );
    }
    ensure!(
        ids.len() == 3,
        "GET /v1/files: expected 3 files, got {}",
        listed.quote()
    );
    let named = ctx
        .get("/v1/files?name=SOUL.md", Some(&agent.key))
        .await?
        .expect(200)?
        .list_ids()?;
    ensure!(
        named == [id2.clone(), id1.clone()],
        "GET /v1/files?name=SOUL.md: expected both versions newest first, got {named:?}"
    );

    for path in [
        "/v1/files/SOUL.md".to_owned(),
        "/v1/files/SOUL.md/content".to_owned(),
        format!("/v1/artifacts/{id1}"),
        format!("/v1/artifacts/{id1}/content"),
    ] {
        ctx.get(&path, Some(&stranger.key))
            .await?
            .expect_error(404, None)?;
    }
    let theirs = ctx
        .get("/v1/files", Some(&stranger.key))
        .await?
        .expect(200)?;
    ensure!(
        theirs.list_ids()?.is_empty(),
        "another agent's file list is not empty: {}",
        theirs.quote()
    );
    for bad in ["..hidden", ".env", "a%2Fb"] {
        put(ctx, &agent, bad, b"x").await?.expect_error(400, None)?;
    }
    ctx.send(
        Method::PUT,
        "/v1/files/SOUL.md",
        None,
        Body::Raw(Some("text/markdown"), v1.to_vec()),
    )
    .await?
    .expect_error(401, None)?;
    Ok(())
}

/// `GET /v1/usage`'s `storage`.
async fn storage(ctx: &Ctx, agent: &Agent) -> Result<serde_json::Value, String> {
    let usage = ctx.get("/v1/usage", Some(&agent.key)).await?.expect(200)?;
    Ok(usage.body.pointer("/storage").cloned().unwrap_or_default())
}

/// Storage caps and delete: an agent whose tier keeps 100 bytes of files stores 60, is refused
/// 50 more (`429 quota_exceeded`, nothing kept), fits 40; `GET /v1/usage` counts them;
/// `DELETE /v1/files/{name}?version=1` gives that version's bytes back, a bare delete every
/// version; deleting what is gone is 404, a bad version 400, another agent's file 404.
pub(super) async fn storage_caps_and_delete(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let stranger = job_agent(ctx).await?;
    let tier = ctx.new_tier(json!({"storage_bytes": 100})).await?;
    ctx.set_tier(&agent.id, &tier).await?;
    ensure!(
        storage(ctx, &agent).await? == json!({"used_bytes": 0, "limit": 100, "remaining": 100}),
        "a new agent's storage: {}",
        storage(ctx, &agent).await?
    );

    put(ctx, &agent, "voice.wav", &[1; 60]).await?.expect(201)?;
    put(ctx, &agent, "voice.wav", &[2; 50])
        .await?
        .expect_error(429, Some("quota_exceeded"))?;
    let versions = ctx
        .get("/v1/files?name=voice.wav", Some(&agent.key))
        .await?
        .expect(200)?
        .list_ids()?;
    ensure!(
        versions.len() == 1,
        "a refused upload must keep nothing: {versions:?}"
    );
    put(ctx, &agent, "voice.wav", &[3; 40])
        .await?
        .expect(201)?
        .expect_at("/version", &json!(2))?;
    ensure!(
        storage(ctx, &agent).await? == json!({"used_bytes": 100, "limit": 100, "remaining": 0}),
        "a full agent's storage: {}",
        storage(ctx, &agent).await?
    );
    put(ctx, &agent, "note.txt", b"x")
        .await?
        .expect_error(429, Some("quota_exceeded"))?;

    let one = ctx
        .delete("/v1/files/voice.wav?version=1", Some(&agent.key))
        .await?
        .expect(200)?;
    one.expect_at("/versions", &json!([1]))?;
    one.expect_at("/freed_bytes", &json!(60))?;
    ctx.get("/v1/files/voice.wav?version=1", Some(&agent.key))
        .await?
        .expect_error(404, None)?;
    let latest = ctx
        .get("/v1/files/voice.wav/content", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        latest.bytes == [3; 40],
        "version 2 must survive deleting version 1"
    );
    ensure!(
        storage(ctx, &agent).await? == json!({"used_bytes": 40, "limit": 100, "remaining": 60}),
        "after deleting version 1: {}",
        storage(ctx, &agent).await?
    );

    put(ctx, &agent, "voice.wav", &[4; 50]).await?.expect(201)?;
    ctx.delete("/v1/files/voice.wav", Some(&stranger.key))
        .await?
        .expect_error(404, None)?;
    ctx.delete("/v1/files/voice.wav?version=two", Some(&agent.key))
        .await?
        .expect_error(400, None)?;
    let all = ctx
        .delete("/v1/files/voice.wav", Some(&agent.key))
        .await?
        .expect(200)?;
    all.expect_at("/versions", &json!([3, 2]))?;
    all.expect_at("/freed_bytes", &json!(90))?;
    ctx.get("/v1/files/voice.wav", Some(&agent.key))
        .await?
        .expect_error(404, None)?;
    ctx.delete("/v1/files/voice.wav", Some(&agent.key))
        .await?
        .expect_error(404, None)?;
    ensure!(
        storage(ctx, &agent).await? == json!({"used_bytes": 0, "limit": 100, "remaining": 100}),
        "after deleting every version: {}",
        storage(ctx, &agent).await?
    );
    Ok(())
}
