//! The request log: every request is recorded once with its caller, route template, model,
//! provider attempts, status, error code, units and bytes, never a secret; `GET /v1/logs` shows
//! an agent its own, `GET /v1/admin/logs` an admin its instance's (naming another is 404), with
//! filters that narrow and a 400 naming any bad one.

use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Ctx, ensure};

use super::generation::roomy_agent;

/// The records of `path` (a list route), as JSON values, checked to be newest first.
async fn records(ctx: &Ctx, path: &str, key: &str) -> Result<Vec<Value>, String> {
    let r = ctx.get(path, Some(key)).await?.expect(200)?;
    let rows = r.array_at("/data")?.clone();
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    ensure!(ids == sorted, "GET {path}: not newest first: {ids:?}");
    Ok(rows)
}

pub(super) async fn request_log(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let chat = json!({"model": "demo-text", "messages": [{"role": "user", "content": "Say hi"}]});
    ctx.post("/v1/chat/completions", Some(&agent.key), &chat)
        .await?
        .expect(200)?;
    let streamed = json!({"model": "demo-text", "stream": true,
        "messages": [{"role": "user", "content": "Say more"}]});
    ctx.post("/v1/chat/completions", Some(&agent.key), &streamed)
        .await?
        .expect(200)?;
    ctx.get(
        "/v1/jobs/job_0123456789abcdef0123456789abcdef",
        Some(&agent.key),
    )
    .await?
    .expect_error(404, Some("not_found"))?;
    // A callback's token must never reach the log.
    let token = "tok3n-that-must-not-be-logged";
    let callback = ctx
        .post(
            &format!("/v1/callbacks/job_0123456789abcdef0123456789abcdef/{token}"),
            None,
            &json!({}),
        )
        .await?;
    ensure!(
        callback.status >= 400,
        "a callback for no job: {}",
        callback.quote()
    );

    let mine = records(ctx, "/v1/logs", &agent.key).await?;
    let chats: Vec<&Value> = mine
        .iter()
        .filter(|r| r["route"] == "/v1/chat/completions")
        .collect();
    ensure!(
        chats.len() == 2,
        "GET /v1/logs: expected the two chat calls, got {mine:?}"
    );
    let (stream, plain) = (chats[0], chats[1]);
    for (r, is_stream) in [(plain, false), (stream, true)] {
        ensure!(
            r["method"] == "POST"
                && r["status"] == 200
                && r["model"] == "demo-text"
                && r["provider"] == "demo"
                && r["caller"] == "agent"
                && r["agent_id"] == agent.id.as_str()
                && r["unit"] == "text_token"
                && r["streamed"] == is_stream
                && r["units_held"].as_u64() > Some(0)
                && r["units_charged"].as_u64() > Some(0)
                && r["units_charged"].as_u64() <= r["units_held"].as_u64()
                && r["bytes_in"].as_u64() > Some(20)
                && r["bytes_out"].as_u64() > Some(20)
                && r["error_code"].is_null()
                && r["key_prefix"].as_str() == agent.key.get(..16),
            "a chat call's record: {r}"
        );
        let attempts = r["attempts"].as_array().cloned().unwrap_or_default();
        ensure!(
            attempts.len() == 1
                && attempts[0]["provider"] == "demo"
                && attempts[0]["error"].is_null(),
            "a chat call's attempts: {r}"
        );
    }
    let missing = mine
        .iter()
        .find(|r| r["route"] == "/v1/jobs/{id}")
        .ok_or_else(|| format!("no record of the job read: {mine:?}"))?;
    ensure!(
        missing["status"] == 404 && missing["error_code"] == "not_found",
        "the 404's record: {missing}"
    );

    // Filters narrow; a bad one is named.
    let errors = records(ctx, "/v1/logs?status=4xx", &agent.key).await?;
    ensure!(
        !errors.is_empty()
            && errors.iter().all(|r| r["status"]
                .as_u64()
                .is_some_and(|s| (400..500).contains(&s))),
        "status=4xx: {errors:?}"
    );
    let coded = records(ctx, "/v1/logs?error=not_found&limit=1", &agent.key).await?;
    ensure!(coded.len() == 1, "error=not_found&limit=1: {coded:?}");
    let page = ctx
        .get("/v1/logs?limit=1", Some(&agent.key))
        .await?
        .expect(200)?;
    page.expect_at("/has_more", &json!(true))?;
    for (query, param) in [
        ("from=yesterday", "from"),
        ("status=6xx", "status"),
        ("provider=skynet", "provider"),
        ("error=oops", "error"),
        ("agent=agt_someone_else", "agent"),
        ("from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z", "from"),
    ] {
        let r = ctx
            .get(&format!("/v1/logs?{query}"), Some(&agent.key))
            .await?
            .expect_error(400, None)?;
        r.expect_at("/error/param", &json!(param))?;
    }
    ctx.get("/v1/logs?colour=blue", Some(&agent.key))
        .await?
        .expect_error(400, None)?;

    // Admins: the operator sees the agent's records; an admin of another instance cannot.
    let by_admin = records(
        ctx,
        &format!("/v1/admin/logs?agent={}", agent.id),
        ctx.admin(),
    )
    .await?;
    ensure!(
        by_admin.len() >= mine.len(),
        "the operator sees fewer of the agent's records ({}) than the agent ({})",
        by_admin.len(),
        mine.len()
    );
    let agent_instance = mine[0]["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let other = ctx.new_instance("logs", Value::Null).await?;
    let other_admin = ctx.admin_key(Some(&other), true).await?;
    let theirs = records(
        ctx,
        &format!("/v1/admin/logs?agent={}", agent.id),
        &other_admin,
    )
    .await?;
    ensure!(
        theirs.is_empty(),
        "another instance's admin sees the agent's requests: {theirs:?}"
    );
    ctx.get(
        &format!("/v1/admin/logs?instance={agent_instance}"),
        Some(&other_admin),
    )
    .await?
    .expect_error(404, None)?;

    // The callback was recorded by its template, and no secret is anywhere in the log.
    let all = ctx
        .get("/v1/admin/logs?limit=200", Some(ctx.admin()))
        .await?
        .expect(200)?;
    ensure!(
        all.text.contains("/v1/callbacks/{job_id}/{token}"),
        "the callback's record (by its template) is missing"
    );
    for secret in [token, agent.key.as_str(), ctx.admin()] {
        ensure!(!all.text.contains(secret), "the request log shows a secret");
    }
    Ok(())
}
