//! Tiers: per-agent request rates with their headers, tier changes showing in the profile, and the
//! operator's tier CRUD with its validation.

use std::time::Duration;

use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Ctx, Resp, ensure};

fn rate_header(r: &Resp, name: &str) -> Result<u64, String> {
    r.header(name)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            format!(
                "{}: expected an integer {name} header, got {:?}",
                r.what,
                r.header(name)
            )
        })
}

fn check_rate(r: &Resp, limit: u64, remaining: u64) -> CaseResult {
    let got = (
        rate_header(r, "x-ratelimit-limit")?,
        rate_header(r, "x-ratelimit-remaining")?,
    );
    ensure!(
        got == (limit, remaining),
        "{}: expected x-ratelimit-limit {limit} and -remaining {remaining}, got {got:?}",
        r.what
    );
    let reset = rate_header(r, "x-ratelimit-reset")?;
    ensure!(
        (1..=60).contains(&reset),
        "{}: x-ratelimit-reset {reset} is not within 1..=60 seconds",
        r.what
    );
    Ok(())
}

/// A tier of 3 requests a minute: three pass with `x-ratelimit-*`, the fourth is 429 with
/// `Retry-After`; moving to an unlimited tier lifts the limit at once. (Whether the budget is per
/// key or per agent is not asserted: one key is used throughout.)
pub(super) async fn rate_limit(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let tier = ctx.new_tier(json!({"requests_per_minute": 3})).await?;
    ctx.set_tier(&agent.id, &tier).await?;

    // The first request's headers tell where the window is.
    let r = ctx
        .get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?;
    check_rate(&r, 3, 2)?;
    let mut remaining = vec![1, 0];
    let reset = rate_header(&r, "x-ratelimit-reset")?;
    if reset < 5 {
        // Too close to a window's end for four requests to land in one window: wait it out,
        // then the full budget is there again.
        tokio::time::sleep(Duration::from_secs(reset + 1)).await;
        remaining = vec![2, 1, 0];
    }
    for left in remaining {
        let r = ctx
            .get("/v1/agents/me", Some(&agent.key))
            .await?
            .expect(200)?;
        check_rate(&r, 3, left)?;
    }
    let r = ctx
        .get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect_error(429, Some("rate_limit_exceeded"))?;
    r.expect_at("/error/type", &Value::from("rate_limit_error"))?;
    let retry = rate_header(&r, "retry-after")?;
    ensure!(
        (1..=60).contains(&retry),
        "429: Retry-After {retry} is not within 1..=60 seconds"
    );
    check_rate(&r, 3, 0)?;
    // Other routes of the agent are limited too.
    ctx.get("/v1/usage", Some(&agent.key))
        .await?
        .expect_error(429, Some("rate_limit_exceeded"))?;

    // An unlimited tier (no requests_per_minute) lifts the limit at once, without headers.
    let unlimited = ctx.new_tier(Value::Null).await?;
    ctx.set_tier(&agent.id, &unlimited).await?;
    let r = ctx
        .get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(
        r.header("x-ratelimit-limit").is_none(),
        "GET /v1/agents/me on a tier without requests_per_minute: unexpected x-ratelimit-limit {:?}",
        r.header("x-ratelimit-limit")
    );
    Ok(())
}

/// Moving an agent to another tier changes its profile and usage report at once.
pub(super) async fn tier_change_reflects(ctx: &Ctx) -> CaseResult {
    let limits = json!({"video": {"month": 3}, "image": {"day": "unlimited"}});
    let tier = ctx
        .new_tier(json!({"limits": limits, "requests_per_minute": 100}))
        .await?;
    let (_, agent) = ctx.new_agent().await?;
    ctx.get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?
        .expect_at("/tier/id", &Value::from("free"))?;
    ctx.set_tier(&agent.id, &tier).await?;

    let me = ctx
        .get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?;
    me.expect_at("/tier/id", &Value::from(tier.as_str()))?;
    me.expect_at("/tier/requests_per_minute", &Value::from(100))?;
    me.expect_at("/usage/tier", &Value::from(tier.as_str()))?;
    let units = me.array_at("/usage/units")?;
    let unit = |name: &str| {
        units
            .iter()
            .find(|u| u["unit"] == name)
            .cloned()
            .unwrap_or_default()
    };
    let (video, image) = (unit("video"), unit("image"));
    ensure!(
        video["month"] == json!({"used": 0, "limit": 3, "remaining": 3}),
        "GET /v1/agents/me after the tier change: expected video month limit 3, got {video}"
    );
    ensure!(
        image["day"]["limit"] == "unlimited" && image["day"]["remaining"] == "unlimited",
        "GET /v1/agents/me after the tier change: expected image day unlimited, got {image}"
    );
    ctx.get("/v1/usage", Some(&agent.key))
        .await?
        .expect(200)?
        .expect_at("/tier", &Value::from(tier.as_str()))?;
    let detail = ctx
        .get(&format!("/v1/admin/agents/{}", agent.id), Some(ctx.admin()))
        .await?
        .expect(200)?;
    detail.expect_at("/tier_id", &Value::from(tier.as_str()))?;
    detail.expect_at("/usage/tier", &Value::from(tier.as_str()))?;

    ctx.patch(
        &format!("/v1/admin/agents/{}", agent.id),
        Some(ctx.admin()),
        &json!({"tier": ctx.unique("no-such-tier")}),
    )
    .await?
    .expect_error(400, Some("invalid_value"))?
    .expect_at("/error/param", &Value::from("tier"))?;
    Ok(())
}

/// Create, get, list, replace and delete a tier; deleting one in use is 409.
pub(super) async fn tiers_crud(ctx: &Ctx) -> CaseResult {
    let admin = Some(ctx.admin());
    let id = ctx.unique("tier");
    let limits = json!({"video": {"month": 3}, "image": {"day": "unlimited", "month": 50}});
    let body = json!({"id": id, "name": "Crud", "description": "made by conformance", "limits": limits, "requests_per_minute": 5});
    let r = ctx
        .post("/v1/admin/tiers", admin, &body)
        .await?
        .expect(201)?;
    r.expect_at("/id", &Value::from(id.as_str()))?;
    r.expect_at("/limits", &limits)?;
    r.expect_at("/requests_per_minute", &Value::from(5))?;
    let path = format!("/v1/admin/tiers/{id}");
    let got = ctx.get(&path, admin).await?.expect(200)?;
    got.expect_at("/limits", &limits)?;
    got.expect_at("/name", &Value::from("Crud"))?;
    got.expect_at("/description", &Value::from("made by conformance"))?;
    let list = ctx
        .get("/v1/admin/tiers", admin)
        .await?
        .expect(200)?
        .list_ids()?;
    ensure!(
        list.contains(&id) && list.iter().any(|t| t == "free"),
        "GET /v1/admin/tiers: expected {id} and free among {list:?}"
    );
    ctx.post("/v1/admin/tiers", admin, &body)
        .await?
        .expect_error(409, None)?;

    let new_limits = json!({"video": {"month": "unlimited"}});
    let replacement = json!({"id": id, "name": "Crud v2", "limits": new_limits});
    let r = ctx.put(&path, admin, &replacement).await?.expect(200)?;
    r.expect_at("/name", &Value::from("Crud v2"))?;
    let got = ctx.get(&path, admin).await?.expect(200)?;
    got.expect_at("/limits", &new_limits)?;
    got.expect_at("/requests_per_minute", &Value::Null)?;
    let mismatched = json!({"id": ctx.unique("tier"), "name": "Other"});
    ctx.put(&path, admin, &mismatched)
        .await?
        .expect_error(400, None)?
        .expect_at("/error/param", &Value::from("id"))?;
    let missing = ctx.unique("tier");
    ctx.put(
        &format!("/v1/admin/tiers/{missing}"),
        admin,
        &json!({"id": missing, "name": "Nope"}),
    )
    .await?
    .expect_error(404, None)?;

    // In use by an instance's default and by that instance's agent: refused until both move.
    let instance = ctx
        .new_instance("tiered", json!({"default_tier": id}))
        .await?;
    let r = ctx
        .post(
            "/v1/agents/register",
            None,
            &json!({"name": "Tiered", "instance": instance}),
        )
        .await?
        .expect(201)?;
    r.expect_at("/tier", &Value::from(id.as_str()))?;
    let agent_id = r.str_at("/agent_id")?.to_owned();
    ctx.delete(&path, admin).await?.expect_error(409, None)?;
    ctx.set_tier(&agent_id, "free").await?;
    ctx.delete(&path, admin).await?.expect_error(409, None)?;
    ctx.patch(
        &format!("/v1/admin/instances/{instance}"),
        admin,
        &json!({"default_tier": "free"}),
    )
    .await?
    .expect(200)?
    .expect_at("/settings/default_tier", &Value::from("free"))?;
    ctx.delete(&path, admin).await?.expect(204)?;
    ctx.get(&path, admin).await?.expect_error(404, None)?;
    ctx.delete(&path, admin).await?.expect_error(404, None)?;
    Ok(())
}

/// Bad tier bodies are 400 with a named parameter and create nothing.
pub(super) async fn tier_validation(ctx: &Ctx) -> CaseResult {
    let admin = Some(ctx.admin());
    let bad_values = [
        json!({"video": {"month": "lots"}}),
        json!({"video": {"month": -1}}),
        json!({"video": {"month": 1.5}}),
        json!({"minutes": {"month": 1}}),
        json!({"video": {"week": 1}}),
    ];
    for limits in bad_values {
        let id = ctx.unique("tier");
        let body = json!({"id": id, "name": "Bad", "limits": limits});
        let r = ctx
            .post("/v1/admin/tiers", admin, &body)
            .await?
            .expect_error(400, Some("invalid_value"))?;
        let param = r.body["error"]["param"].as_str().unwrap_or("");
        ensure!(
            param.starts_with("limits"),
            "POST /v1/admin/tiers with limits {limits}: expected error.param naming limits, got {}",
            r.quote()
        );
        ctx.get(&format!("/v1/admin/tiers/{id}"), admin)
            .await?
            .expect_error(404, None)?;
    }
    let zero_rate = json!({"id": ctx.unique("tier"), "name": "Zero", "requests_per_minute": 0});
    ctx.post("/v1/admin/tiers", admin, &zero_rate)
        .await?
        .expect_error(400, Some("invalid_value"))?
        .expect_at("/error/param", &Value::from("requests_per_minute"))?;
    let bad_id = json!({"id": "Not A Slug", "name": "Bad id"});
    ctx.post("/v1/admin/tiers", admin, &bad_id)
        .await?
        .expect_error(400, Some("invalid_value"))?
        .expect_at("/error/param", &Value::from("id"))?;
    let extra = json!({"id": ctx.unique("tier"), "name": "Extra", "videos_per_month": 3});
    ctx.post("/v1/admin/tiers", admin, &extra)
        .await?
        .expect_error(400, Some("unknown_field"))?
        .expect_at("/error/param", &Value::from("videos_per_month"))?;
    let nameless = json!({"id": ctx.unique("tier")});
    ctx.post("/v1/admin/tiers", admin, &nameless)
        .await?
        .expect_error(400, None)?;
    Ok(())
}
