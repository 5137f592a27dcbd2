//! Authentication: missing, wrong and malformed credentials on agent and admin routes, and
//! suspended agents.

use reqwest::Method;
use serde_json::Value;

use crate::CaseResult;
use crate::client::{Body, Ctx, Resp, ensure};

async fn with_authorization(ctx: &Ctx, path: &str, value: Option<&str>) -> Result<Resp, String> {
    ctx.send_with(
        Method::GET,
        path,
        value.map(str::to_owned),
        Body::Empty,
        &[],
    )
    .await
}

fn unauthorized(r: Resp, code: Option<&str>) -> CaseResult {
    let r = r.expect_error(401, code)?;
    r.expect_at("/error/type", &Value::from("authentication_error"))
}

/// Agent routes refuse missing, unknown, malformed and admin credentials with 401.
pub(super) async fn agent_auth_errors(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    for path in [
        "/v1/agents/me",
        "/agents/me",
        "/v1/keys",
        "/v1/usage",
        "/v1/models",
    ] {
        unauthorized(ctx.get(path, None).await?, Some("missing_api_key"))?;
    }
    let unknown = format!("ml_{}", "0".repeat(64));
    let admin = format!("Bearer {}", ctx.admin());
    let wrong_scheme = format!("Token {}", agent.key);
    let basic = "Basic dXNlcjpwYXNzd29yZA==".to_owned();
    let cases = [
        format!("Bearer {unknown}"),
        "Bearer ".to_owned(),
        "Bearer".to_owned(),
        basic,
        wrong_scheme,
        admin,
        format!("Bearer {}x", agent.key),
    ];
    for value in &cases {
        let r = with_authorization(ctx, "/v1/agents/me", Some(value)).await?;
        let shown: String = value.chars().take(24).collect();
        ensure!(
            r.status == 401,
            "GET /v1/agents/me with Authorization {shown:?}…: expected 401, got {}",
            r.quote()
        );
        unauthorized(r, None)?;
    }
    // The scheme is case-insensitive (RFC 9110).
    let lower = format!("bearer {}", agent.key);
    with_authorization(ctx, "/v1/agents/me", Some(&lower))
        .await?
        .expect(200)?;
    Ok(())
}

/// Admin routes refuse missing, unknown and agent credentials with 401; the operator token works.
pub(super) async fn admin_auth_errors(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    unauthorized(
        ctx.get("/v1/admin/whoami", None).await?,
        Some("missing_api_key"),
    )?;
    unauthorized(
        ctx.get("/v1/admin/agents", None).await?,
        Some("missing_api_key"),
    )?;
    unauthorized(ctx.get("/v1/admin/whoami", Some(&agent.key)).await?, None)?;
    let fake = format!("mla_{}", "f".repeat(64));
    unauthorized(ctx.get("/v1/admin/tiers", Some(&fake)).await?, None)?;
    unauthorized(
        with_authorization(ctx, "/v1/admin/instances", Some("Basic b3A6b3A=")).await?,
        None,
    )?;
    // An Authorization header on registration is an admin key, and a bad one is refused.
    let body = serde_json::json!({"name": "Nobody"});
    unauthorized(
        ctx.post("/v1/agents/register", Some(&fake), &body).await?,
        None,
    )?;

    let me = ctx
        .get("/v1/admin/whoami", Some(ctx.admin()))
        .await?
        .expect(200)?;
    me.expect_at("/scope/kind", &Value::from("operator"))?;
    me.expect_at("/read_only", &Value::Bool(false))?;
    Ok(())
}

/// A suspended agent's key answers 403 `agent_suspended`; after activation it works again.
pub(super) async fn suspend_activate(ctx: &Ctx) -> CaseResult {
    let (instance, agent) = ctx.new_agent().await?;
    ctx.get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?;
    let path = format!("/v1/admin/agents/{}", agent.id);
    let r = ctx
        .send(
            Method::POST,
            &format!("{path}/suspend"),
            Some(ctx.admin()),
            Body::Empty,
        )
        .await?
        .expect(200)?;
    r.expect_at("/status", &Value::from("suspended"))?;
    for p in ["/v1/agents/me", "/v1/keys", "/v1/usage"] {
        let r = ctx
            .get(p, Some(&agent.key))
            .await?
            .expect_error(403, Some("agent_suspended"))?;
        r.expect_at("/error/type", &Value::from("permission_error"))?;
    }
    let listed = ctx
        .get(
            &format!("/v1/admin/agents?instance_id={instance}&status=suspended"),
            Some(ctx.admin()),
        )
        .await?
        .expect(200)?;
    ensure!(
        listed.list_ids()? == [agent.id.clone()],
        "GET /v1/admin/agents?status=suspended: expected only {}, got {}",
        agent.id,
        listed.quote()
    );
    ctx.get(&path, Some(ctx.admin()))
        .await?
        .expect(200)?
        .expect_at("/status", &Value::from("suspended"))?;

    let r = ctx
        .send(
            Method::POST,
            &format!("{path}/activate"),
            Some(ctx.admin()),
            Body::Empty,
        )
        .await?
        .expect(200)?;
    r.expect_at("/status", &Value::from("active"))?;
    ctx.get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?
        .expect_at("/status", &Value::from("active"))?;

    // Suspending through PATCH works the same way.
    let patch = serde_json::json!({"status": "suspended"});
    ctx.patch(&path, Some(ctx.admin()), &patch)
        .await?
        .expect(200)?;
    ctx.get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect_error(403, Some("agent_suspended"))?;
    let missing = format!("/v1/admin/agents/{}/suspend", ctx.unique("agt"));
    ctx.send(Method::POST, &missing, Some(ctx.admin()), Body::Empty)
        .await?
        .expect_error(404, None)?;
    Ok(())
}
