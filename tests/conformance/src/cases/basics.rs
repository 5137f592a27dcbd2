//! Health, request ids, registration (new and seed paths), keys shown once, the profile and the
//! usage report.

use reqwest::Method;
use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Body, Ctx, ensure};
use crate::fixtures::Agent;

/// `GET /health` (and `/v1/health`) answers `200 {"status":"ok"}`; `GET /health/ready` checks
/// the store and the blob store, both up on every runtime.
pub(super) async fn health(ctx: &Ctx) -> CaseResult {
    for path in ["/health", "/v1/health"] {
        let r = ctx.get(path, None).await?.expect(200)?;
        r.expect_at("/status", &Value::from("ok"))?;
        let ct = r.header("content-type").unwrap_or("");
        ensure!(
            ct.starts_with("application/json"),
            "GET {path}: content-type {ct:?}, expected JSON"
        );
    }
    let ready = ctx.get("/health/ready", None).await?.expect(200)?;
    ready.expect_at("/status", &Value::from("ready"))?;
    ready.expect_at("/checks/store/status", &Value::from("ok"))?;
    ready.expect_at("/checks/blobs/status", &Value::from("ok"))?;
    Ok(())
}

/// A client's `x-request-id` is echoed; without one the server makes a fresh id per request.
pub(super) async fn request_id(ctx: &Ctx) -> CaseResult {
    let mine = ctx.unique("request-id");
    let r = ctx
        .send_with(
            Method::GET,
            "/health",
            None,
            Body::Empty,
            &[("x-request-id", &mine)],
        )
        .await?
        .expect(200)?;
    ensure!(
        r.header("x-request-id") == Some(mine.as_str()),
        "GET /health with x-request-id {mine:?}: expected it echoed, got {:?}",
        r.header("x-request-id")
    );
    let a = ctx.get("/health", None).await?;
    let b = ctx.get("/v1/no-such-route", None).await?;
    let (ida, idb) = (a.header("x-request-id"), b.header("x-request-id"));
    ensure!(ida != idb, "two requests got the same x-request-id {ida:?}");
    Ok(())
}

/// `POST /v1/agents/register` returns 201 with a 67-character `ml_` key shown once.
pub(super) async fn register(ctx: &Ctx) -> CaseResult {
    let instance = ctx.new_instance("reg", Value::Null).await?;
    let name = ctx.unique("agent");
    let email = ctx.email();
    let body = json!({
        "name": name,
        "email": email.to_uppercase(),
        "soul_md": "# Soul\nI make short films.",
        "instance": instance,
    });
    let r = ctx
        .post("/v1/agents/register", None, &body)
        .await?
        .expect(201)?;
    let agent = Agent::from_registered(&r)?;
    ensure!(
        agent.key.starts_with("ml_")
            && agent.key.len() == 67
            && agent.key[3..].chars().all(|c| c.is_ascii_hexdigit()),
        "register: api_key must be ml_ + 64 hex digits (67 chars), got {:?}",
        agent.key
    );
    ensure!(
        agent.id.starts_with("agt_"),
        "register: agent_id {:?} should start with agt_",
        agent.id
    );
    let prefix = r.str_at("/key_prefix")?;
    ensure!(
        !prefix.is_empty() && agent.key.starts_with(prefix) && prefix.len() < agent.key.len(),
        "register: key_prefix {prefix:?} must be a proper prefix of api_key"
    );
    r.expect_at("/name", &Value::from(name.as_str()))?;
    r.expect_at("/email", &Value::from(email.as_str()))?;
    r.expect_at("/instance_id", &Value::from(instance.as_str()))?;
    r.expect_at("/tier", &Value::from("free"))?;
    r.expect_at("/status", &Value::from("active"))?;

    let me = ctx
        .get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?;
    me.expect_at("/agent_id", &Value::from(agent.id.as_str()))?;

    // Emails are unique per instance, not across instances.
    let again = json!({"name": "Twin", "email": email, "instance": instance});
    ctx.post("/v1/agents/register", None, &again)
        .await?
        .expect_error(409, None)?
        .expect_at("/error/param", &Value::from("email"))?;
    let other = ctx.new_instance("reg-other", Value::Null).await?;
    let elsewhere = json!({"name": "Twin", "email": email, "instance": other});
    ctx.post("/v1/agents/register", None, &elsewhere)
        .await?
        .expect(201)?;

    let blank = json!({"name": "   ", "instance": instance});
    ctx.post("/v1/agents/register", None, &blank)
        .await?
        .expect_error(400, Some("invalid_value"))?
        .expect_at("/error/param", &Value::from("name"))?;
    let nowhere = json!({"name": "Lost", "instance": ctx.unique("missing")});
    ctx.post("/v1/agents/register", None, &nowhere)
        .await?
        .expect_error(404, None)?;
    Ok(())
}

/// The seed's `POST /agents/register` body works, and `GET /agents/me` shows what was sent.
pub(super) async fn register_seed_path(ctx: &Ctx) -> CaseResult {
    let email = ctx.email();
    let voice = "https://media.example.com/voices/sample.mp3";
    let soul = "# SOUL\nA seed-era agent.";
    let body = json!({
        "name": "Seed Agent",
        "email": email,
        "soul_md": soul,
        "voice_sample_url": voice,
    });
    let r = ctx
        .post("/agents/register", None, &body)
        .await?
        .expect(201)?;
    let agent = Agent::from_registered(&r)?;
    ensure!(
        agent.key.starts_with("ml_") && agent.key.len() == 67,
        "POST /agents/register: api_key must be 67 chars starting ml_, got {:?}",
        agent.key
    );
    let me = ctx.get("/agents/me", Some(&agent.key)).await?.expect(200)?;
    me.expect_at("/agent_id", &Value::from(agent.id.as_str()))?;
    me.expect_at("/name", &Value::from("Seed Agent"))?;
    me.expect_at("/email", &Value::from(email.as_str()))?;
    me.expect_at("/soul_md", &Value::from(soul))?;
    me.expect_at("/voice_sample_ref", &Value::from(voice))?;
    Ok(())
}

/// The key appears only in the registration answer: listings show its prefix, never the secret.
pub(super) async fn key_shown_once(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let secret_tail = &agent.key[agent.key.len() - 40..];
    let keys = ctx.get("/v1/keys", Some(&agent.key)).await?.expect(200)?;
    let data = keys.array_at("/data")?;
    ensure!(
        data.len() == 1,
        "GET /v1/keys: expected exactly one key, got {}",
        keys.quote()
    );
    keys.expect_at("/data/0/id", &Value::from(agent.key_id.as_str()))?;
    keys.expect_at("/data/0/current", &Value::Bool(true))?;
    let prefix = keys.str_at("/data/0/prefix")?;
    ensure!(
        !prefix.is_empty() && agent.key.starts_with(prefix),
        "GET /v1/keys: prefix {prefix:?} is not a prefix of the issued key"
    );
    for forbidden in ["key", "api_key", "secret", "hash"] {
        ensure!(
            data[0].get(forbidden).is_none(),
            "GET /v1/keys: a listed key must not have a {forbidden:?} field; got {}",
            keys.quote()
        );
    }
    let me = ctx
        .get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?;
    let detail = ctx
        .get(&format!("/v1/admin/agents/{}", agent.id), Some(ctx.admin()))
        .await?
        .expect(200)?;
    for r in [&keys, &me, &detail] {
        ensure!(
            !r.text.contains(secret_tail),
            "{}: the response contains the key's secret: {}",
            r.what,
            r.quote()
        );
    }
    Ok(())
}

fn video_month(r: &crate::client::Resp, pointer: &str) -> Result<Value, String> {
    let units = r.array_at(pointer)?;
    units
        .iter()
        .find(|u| u["unit"] == "video")
        .map(|u| u["month"].clone())
        .ok_or_else(|| format!("{}: no video unit in {pointer}: {}", r.what, r.quote()))
}

/// `GET /v1/agents/me` and the seed's `/agents/me`: profile, free tier, untouched video quota.
pub(super) async fn me_profile(ctx: &Ctx) -> CaseResult {
    let (instance, agent) = ctx.new_agent().await?;
    for path in ["/v1/agents/me", "/agents/me"] {
        let r = ctx.get(path, Some(&agent.key)).await?.expect(200)?;
        r.expect_at("/agent_id", &Value::from(agent.id.as_str()))?;
        r.expect_at("/instance_id", &Value::from(instance.as_str()))?;
        r.expect_at("/status", &Value::from("active"))?;
        r.expect_at("/tier/id", &Value::from("free"))?;
        r.expect_at("/usage/tier", &Value::from("free"))?;
        r.expect_at("/videos_generated", &Value::from(0))?;
        let month = video_month(&r, "/usage/units")?;
        let expected = json!({"used": 0, "limit": 10, "remaining": 10});
        ensure!(
            month == expected,
            "GET {path}: expected video month usage {expected}, got {month}"
        );
        ensure!(
            r.body["monthly_usage_minutes"].as_f64() == Some(0.0),
            "GET {path}: expected monthly_usage_minutes 0, got {}",
            r.quote()
        );
    }
    Ok(())
}

/// `GET /v1/usage`: tier, day and month keys, and every unit with used/limit/remaining.
pub(super) async fn usage_shape(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let r = ctx.get("/v1/usage", Some(&agent.key)).await?.expect(200)?;
    r.expect_at("/tier", &Value::from("free"))?;
    let day = r.str_at("/day")?;
    let month = r.str_at("/month")?;
    let digits = |s: &str, shape: &str| {
        s.len() == shape.len()
            && s.chars()
                .zip(shape.chars())
                .all(|(c, p)| if p == '9' { c.is_ascii_digit() } else { c == p })
    };
    ensure!(
        digits(day, "9999-99-99") && digits(month, "9999-99") && day.starts_with(month),
        "GET /v1/usage: expected day YYYY-MM-DD within month YYYY-MM, got day {day:?} month {month:?}"
    );
    let units = r.array_at("/units")?;
    let mut names: Vec<&str> = units.iter().filter_map(|u| u["unit"].as_str()).collect();
    names.sort_unstable();
    let expected = [
        "audio_second",
        "image",
        "persona",
        "render",
        "stock_search",
        "text_token",
        "video",
    ];
    ensure!(
        names == expected,
        "GET /v1/usage: expected units {expected:?}, got {names:?}"
    );
    let is_limit = |v: &Value| v.is_u64() || v == "unlimited";
    for u in units {
        for period in ["day", "month"] {
            let p = &u[period];
            ensure!(
                p["used"].is_u64() && is_limit(&p["limit"]) && is_limit(&p["remaining"]),
                "GET /v1/usage: {period} of {} must have used (integer), limit and remaining (integer or \"unlimited\"); got {p}",
                u["unit"]
            );
        }
    }
    let video = units
        .iter()
        .find(|u| u["unit"] == "video")
        .cloned()
        .unwrap_or_default();
    ensure!(
        video["day"]["limit"] == "unlimited" && video["month"]["limit"] == 10,
        "GET /v1/usage: free tier video limits should be day unlimited, month 10; got {video}"
    );
    Ok(())
}
