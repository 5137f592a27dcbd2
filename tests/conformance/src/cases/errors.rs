//! The one error format for malformed requests: bad JSON, unknown fields, wrong types, bodies
//! too large, non-JSON bodies, unknown routes and wrong methods. Every error body is checked to
//! have exactly `error.message`, `error.type`, `error.code` and `error.param`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Body, Ctx, Resp};

const JSON: Option<&str> = Some("application/json");

async fn raw(
    ctx: &Ctx,
    method: Method,
    path: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Resp, String> {
    ctx.send(method, path, auth, Body::Raw(content_type, body.to_vec()))
        .await
}

fn bad_request(r: Resp, code: &str, param: Option<&str>) -> CaseResult {
    let r = r.expect_error(400, Some(code))?;
    r.expect_at("/error/type", &json!("invalid_request_error"))?;
    if let Some(p) = param {
        r.expect_at("/error/param", &json!(p))?;
    }
    Ok(())
}

/// Syntax errors and trailing garbage are 400 `invalid_json`, on public and admin routes.
pub(super) async fn invalid_json(ctx: &Ctx) -> CaseResult {
    for body in [
        &b"{\"name\":"[..],
        b"{\"name\":\"a\"} trailing",
        b"not json",
        b"{'name':'a'}",
    ] {
        bad_request(
            raw(ctx, Method::POST, "/v1/agents/register", None, JSON, body).await?,
            "invalid_json",
            None,
        )?;
    }
    let admin = Some(ctx.admin());
    bad_request(
        raw(
            ctx,
            Method::POST,
            "/v1/admin/tiers",
            admin,
            JSON,
            b"{\"id\":",
        )
        .await?,
        "invalid_json",
        None,
    )?;
    let (_, agent) = ctx.new_agent().await?;
    bad_request(
        raw(
            ctx,
            Method::POST,
            "/v1/keys",
            Some(&agent.key),
            JSON,
            b"{\"name\": \"a\",",
        )
        .await?,
        "invalid_json",
        None,
    )?;
    Ok(())
}

/// A field the endpoint does not know is 400 `unknown_field`, naming it in `param`.
pub(super) async fn unknown_field(ctx: &Ctx) -> CaseResult {
    let body = json!({"name": "Typo", "nmae": "b"});
    bad_request(
        ctx.post("/v1/agents/register", None, &body).await?,
        "unknown_field",
        Some("nmae"),
    )?;
    let (instance, agent) = ctx.new_agent().await?;
    let admin = Some(ctx.admin());
    let path = format!("/v1/admin/agents/{}", agent.id);
    bad_request(
        ctx.patch(&path, admin, &json!({"teir": "free"})).await?,
        "unknown_field",
        Some("teir"),
    )?;
    let path = format!("/v1/admin/instances/{instance}");
    bad_request(
        ctx.patch(&path, admin, &json!({"registation": "open"}))
            .await?,
        "unknown_field",
        Some("registation"),
    )?;
    bad_request(
        ctx.post("/v1/keys", Some(&agent.key), &json!({"label": "x"}))
            .await?,
        "unknown_field",
        Some("label"),
    )?;
    Ok(())
}

/// A value of the wrong type is 400 `invalid_value`, naming the field in `param`.
pub(super) async fn wrong_type(ctx: &Ctx) -> CaseResult {
    let cases = [
        (json!({"name": 5}), "name"),
        (json!({"name": "Ok", "email": ["a@b.example"]}), "email"),
        (json!({"name": "Ok", "soul_md": {"text": "x"}}), "soul_md"),
    ];
    for (body, param) in cases {
        bad_request(
            ctx.post("/v1/agents/register", None, &body).await?,
            "invalid_value",
            Some(param),
        )?;
    }
    let (instance, agent) = ctx.new_agent().await?;
    let r = ctx
        .post(
            "/v1/keys",
            Some(&agent.key),
            &json!({"expires_in_days": "soon"}),
        )
        .await?;
    bad_request(r, "invalid_value", Some("expires_in_days"))?;
    let r = ctx
        .patch(
            &format!("/v1/admin/instances/{instance}"),
            Some(ctx.admin()),
            &json!({"registration": "sometimes"}),
        )
        .await?;
    bad_request(r, "invalid_value", Some("registration"))?;
    let r = ctx
        .patch(
            &format!("/v1/admin/agents/{}", agent.id),
            Some(ctx.admin()),
            &json!({"status": "asleep"}),
        )
        .await?;
    bad_request(r, "invalid_value", Some("status"))?;
    // A missing required field is a 400 too.
    ctx.post(
        "/v1/agents/register",
        None,
        &json!({"email": "x@y.example"}),
    )
    .await?
    .expect_error(400, None)?;
    Ok(())
}

/// A body over the server's limit (1 MiB by default) is 413 `body_too_large`; a large body
/// within the limit reaches validation instead.
pub(super) async fn body_too_large(ctx: &Ctx) -> CaseResult {
    let instance = ctx.new_instance("big", Value::Null).await?;
    let big =
        json!({"name": "Big", "instance": instance, "soul_md": "a".repeat(1024 * 1024 + 1024)});
    let r = ctx.post("/v1/agents/register", None, &big).await?;
    let r = r.expect_error(413, Some("body_too_large"))?;
    r.expect_at("/error/type", &json!("invalid_request_error"))?;
    let medium = json!({"name": "Medium", "instance": instance, "soul_md": "a".repeat(100 * 1024)});
    bad_request(
        ctx.post("/v1/agents/register", None, &medium).await?,
        "invalid_value",
        Some("soul_md"),
    )?;
    Ok(())
}

/// A body that is not declared as JSON is 415 `unsupported_media_type`; JSON with a charset or a
/// `+json` type is accepted.
pub(super) async fn unsupported_media_type(ctx: &Ctx) -> CaseResult {
    let instance = ctx.new_instance("media", Value::Null).await?;
    let body = serde_json::to_vec(&json!({"name": "Media", "instance": instance}))
        .map_err(|e| e.to_string())?;
    for content_type in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
    ] {
        let r = raw(
            ctx,
            Method::POST,
            "/v1/agents/register",
            None,
            content_type,
            &body,
        )
        .await?;
        r.expect_error(415, Some("unsupported_media_type"))
            .map_err(|e| format!("content-type {content_type:?}: {e}"))?;
    }
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ] {
        raw(
            ctx,
            Method::POST,
            "/v1/agents/register",
            None,
            Some(content_type),
            &body,
        )
        .await?
        .expect(201)
        .map_err(|e| format!("content-type {content_type:?}: {e}"))?;
    }
    Ok(())
}

/// A path no route matches is 404 `route_not_found`, with or without credentials.
pub(super) async fn unknown_route(ctx: &Ctx) -> CaseResult {
    for (path, auth) in [
        ("/v1/nope", None),
        ("/", None),
        ("/v1/admin/nope", Some(ctx.admin())),
        ("/v2/agents/me", None),
    ] {
        ctx.get(path, auth)
            .await?
            .expect_error(404, Some("route_not_found"))?;
    }
    let r = ctx.post("/v1/chat/nothing-here", None, &json!({})).await?;
    r.expect_error(404, Some("route_not_found"))?;
    Ok(())
}

/// A known path with a method it does not take is 405 `method_not_allowed`.
pub(super) async fn wrong_method(ctx: &Ctx) -> CaseResult {
    let cases = [
        (Method::DELETE, "/health"),
        (Method::POST, "/health"),
        (Method::GET, "/v1/agents/register"),
        (Method::PUT, "/agents/register"),
        (Method::PATCH, "/v1/admin/tiers"),
    ];
    for (method, path) in cases {
        let r = ctx.send_with(method, path, None, Body::Empty, &[]).await?;
        r.expect_error(405, Some("method_not_allowed"))?;
    }
    let admin = Some(ctx.admin());
    ctx.send(Method::POST, "/v1/admin/whoami", admin, Body::Empty)
        .await?
        .expect_error(405, Some("method_not_allowed"))?;
    Ok(())
}
