//! The router in-process (`tower::ServiceExt::oneshot`): status mapping, the error shape,
//! request ids and the rate-limit headers, without a socket.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use molts_core::ErrorCode;
use molts_core::{Gateway, GatewayConfig, Ports};
use molts_http_api::{ApiState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: &str = "test-operator-token-0123456789abcdef";

async fn app() -> Result<Router, String> {
    let ports = Ports::in_memory();
    let gateway = Gateway::new(ports, GatewayConfig::default());
    gateway
        .bootstrap(Some(ADMIN))
        .await
        .map_err(|e| e.to_string())?;
    Ok(router(ApiState {
        max_body_bytes: 4096,
        ..ApiState::new(gateway)
    }))
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Body>,
    json_type: bool,
) -> Result<Reply, String> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if json_type {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(body.unwrap_or_else(Body::empty))
        .map_err(|e| e.to_string())?;
    let res = app.clone().oneshot(req).await.map_err(|e| e.to_string())?;
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| format!("{e}: {bytes:?}"))?
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn assert_error_shape(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    let error = &reply.body["error"];
    let keys: Vec<&String> = error
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 4, "error keys: {keys:?}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error["type"].is_string());
    assert_eq!(error["code"], code);
    assert!(reply.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_format() -> Result<(), String> {
    let app = app().await?;
    let r = send(&app, "GET", "/v1/nope", None, None, false).await?;
    assert_error_shape(&r, StatusCode::NOT_FOUND, "route_not_found");
    let r = send(&app, "DELETE", "/health", None, None, false).await?;
    assert_error_shape(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    Ok(())
}

#[tokio::test]
async fn bad_bodies_are_4xx_with_the_offending_param() -> Result<(), String> {
    let app = app().await?;
    let r = send(
        &app,
        "POST",
        "/v1/agents/register",
        None,
        Some(Body::from("{\"name\":")),
        true,
    )
    .await?;
    assert_error_shape(&r, StatusCode::BAD_REQUEST, "invalid_json");
    let r = send(
        &app,
        "POST",
        "/v1/agents/register",
        None,
        Some(Body::from(r#"{"name":"a","colour":"red"}"#)),
        true,
    )
    .await?;
    assert_error_shape(&r, StatusCode::BAD_REQUEST, "unknown_field");
    assert_eq!(r.body["error"]["param"], "colour");
    let r = send(
        &app,
        "POST",
        "/v1/agents/register",
        None,
        Some(Body::from(r#"{"name":42}"#)),
        true,
    )
    .await?;
    assert_error_shape(&r, StatusCode::BAD_REQUEST, "invalid_value");
    assert_eq!(r.body["error"]["param"], "name");
    let big = json!({"name": "a", "soul_md": "x".repeat(10_000)}).to_string();
    let r = send(
        &app,
        "POST",
        "/v1/agents/register",
        None,
        Some(Body::from(big)),
        true,
    )
    .await?;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(r.body["error"]["code"], "body_too_large");
    let r = send(
        &app,
        "POST",
        "/v1/agents/register",
        None,
        Some(Body::from("name=a")),
        false,
    )
    .await?;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(r.body["error"]["code"], "unsupported_media_type");
    Ok(())
}

#[tokio::test]
async fn agent_routes_authenticate_and_report_the_rate() -> Result<(), String> {
    let app = app().await?;
    let r = send(&app, "GET", "/v1/agents/me", None, None, false).await?;
    assert_error_shape(&r, StatusCode::UNAUTHORIZED, "missing_api_key");
    let r = send(&app, "GET", "/v1/agents/me", Some("ml_0000"), None, false).await?;
    assert_error_shape(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");

    let r = send(
        &app,
        "POST",
        "/v1/agents/register",
        None,
        Some(Body::from(r#"{"name":"Ada","soul_md":"hi"}"#)),
        true,
    )
    .await?;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = r.body["api_key"].as_str().unwrap_or_default().to_owned();
    let r = send(&app, "GET", "/v1/agents/me", Some(&key), None, false).await?;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["x-ratelimit-limit"], "60");
    assert_eq!(r.headers["x-ratelimit-remaining"], "59");
    assert!(r.headers.contains_key("x-ratelimit-reset"));
    assert_eq!(r.body["tier"]["id"], "free");
    // An agent key is not an admin key.
    let r = send(&app, "GET", "/v1/admin/tiers", Some(&key), None, false).await?;
    assert_error_shape(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");
    let r = send(&app, "GET", "/v1/admin/tiers", Some(ADMIN), None, false).await?;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["object"], "list");
    Ok(())
}

#[tokio::test]
async fn quota_errors_tell_openai_clients_not_to_retry() -> Result<(), String> {
    let e = molts_core::Error::new(
        molts_core::ErrorKind::QuotaExceeded,
        "monthly video limit reached",
    )
    .with_code(ErrorCode::QuotaExceeded);
    let response = axum::response::IntoResponse::into_response(molts_http_api::ApiError(e));
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["x-should-retry"], "false");
    Ok(())
}

/// Registers an agent and answers its key.
async fn agent_key(app: &Router) -> Result<String, String> {
    let r = send(
        app,
        "POST",
        "/v1/agents/register",
        None,
        Some(Body::from(r#"{"name":"Ada"}"#)),
        true,
    )
    .await?;
    r.body["api_key"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no key: {}", r.body))
}

#[tokio::test]
async fn path_ids_that_are_not_utf8_answer_in_the_error_format() -> Result<(), String> {
    let app = app().await?;
    let key = agent_key(&app).await?;
    for (method, path, token) in [
        ("GET", "/v1/jobs/%ff%fe", key.as_str()),
        ("POST", "/v1/jobs/%ff%fe/cancel", key.as_str()),
        ("GET", "/v1/videos/%ff%fe", key.as_str()),
        ("GET", "/v1/artifacts/%ff/content", key.as_str()),
        ("GET", "/v1/files/%fe", key.as_str()),
        ("DELETE", "/v1/keys/%ff", key.as_str()),
        ("GET", "/v1/models/%ff", key.as_str()),
        ("GET", "/v1/admin/tiers/%ff", ADMIN),
        ("GET", "/v1/admin/agents/%ff", ADMIN),
        ("PATCH", "/v1/admin/models/%ff", ADMIN),
        (
            "PUT",
            "/v1/admin/instances/default/provider-keys/%ff",
            ADMIN,
        ),
    ] {
        let r = send(&app, method, path, Some(token), None, false).await?;
        assert_error_shape(&r, StatusCode::BAD_REQUEST, "invalid_path");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("UTF-8")),
            "{method} {path}: {}",
            r.body
        );
    }
    // The callback route has no key, and must not answer plain text either.
    let r = send(&app, "POST", "/v1/callbacks/%ff/tok", None, None, false).await?;
    assert_error_shape(&r, StatusCode::BAD_REQUEST, "invalid_path");
    Ok(())
}

#[tokio::test]
async fn job_and_video_urls_are_absolute_without_a_public_url() -> Result<(), String> {
    use molts_core::domain::{Job, JobKind, JobStatus, Provider};
    let ports = Ports::in_memory();
    let stores = ports.stores.clone();
    let gateway = Gateway::new(ports, GatewayConfig::default());
    gateway
        .bootstrap(Some(ADMIN))
        .await
        .map_err(|e| e.to_string())?;
    let app = router(ApiState::new(gateway));
    let r = send(
        &app,
        "POST",
        "/v1/agents/register",
        None,
        Some(Body::from(r#"{"name":"Ada"}"#)),
        true,
    )
    .await?;
    let key = r.body["api_key"].as_str().unwrap_or_default().to_owned();
    let agent_id = r.body["agent_id"].as_str().unwrap_or_default().to_owned();
    let now = chrono::Utc::now();
    let job = Job {
        id: "job_absolute".into(),
        instance_id: r.body["instance_id"].as_str().unwrap_or_default().into(),
        agent_id,
        kind: JobKind::Video,
        model_id: "demo-video".into(),
        provider: Provider::Demo,
        provider_job_id: Some("demo_1".into()),
        status: JobStatus::Ready,
        input: json!({"script": "hi"}),
        units: 1,
        reservation_id: "res_1".into(),
        idempotency_key: None,
        callback_token_hash: String::new(),
        webhook_url: None,
        attempts: 1,
        next_check_at: now,
        deadline_at: now,
        error: None,
        artifact_id: Some("art_1".into()),
        duration_seconds: Some(1.0),
        created_at: now,
        updated_at: now,
        finished_at: Some(now),
        version: 1,
    };
    stores
        .jobs
        .insert_job(&job)
        .await
        .map_err(|e| e.to_string())?;

    let read = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let app = app.clone();
        let key = key.clone();
        async move {
            let mut req = Request::get(path).header(header::AUTHORIZATION, format!("Bearer {key}"));
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            let req = req.body(Body::empty()).map_err(|e| e.to_string())?;
            let res = app.oneshot(req).await.map_err(|e| e.to_string())?;
            let bytes = res
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string())
        }
    };
    let job = read(
        "/v1/jobs/job_absolute",
        &[("host", "molts.test:8080"), ("x-forwarded-proto", "https")],
    )
    .await?;
    assert_eq!(
        job["url"], "https://molts.test:8080/v1/artifacts/art_1/content",
        "{job}"
    );
    let video = read("/v1/videos/job_absolute", &[("host", "molts.test")]).await?;
    assert_eq!(video["url"], "http://molts.test/v1/artifacts/art_1/content");
    let list = read(
        "/v1/jobs",
        &[("host", "molts.test"), ("forwarded", "proto=https;host=x")],
    )
    .await?;
    assert_eq!(
        list["data"][0]["url"],
        "https://molts.test/v1/artifacts/art_1/content"
    );
    Ok(())
}

#[tokio::test]
async fn anonymous_registrations_are_limited_per_client_address() -> Result<(), String> {
    // A clock that stands still, so every registration falls in one rate window.
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-15T12:00:00Z")
        .map_err(|e| e.to_string())?
        .with_timezone(&chrono::Utc);
    let ports = Ports {
        clock: std::sync::Arc::new(molts_core::clock::ManualClock::new(start)),
        ..Ports::in_memory()
    };
    let gateway = Gateway::new(ports, GatewayConfig::default());
    gateway
        .bootstrap(Some(ADMIN))
        .await
        .map_err(|e| e.to_string())?;
    let app = router(ApiState::new(gateway));
    let register = |n: usize, client: &str| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/v1/agents/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(r#"{{"name":"agent {n}"}}"#)))
            .unwrap_or_default();
        // What the runtime tells the router about the request's client.
        if let Ok(address) = client.parse() {
            req.extensions_mut()
                .insert(molts_http_api::ClientAddress(address));
        }
        app.clone().oneshot(req)
    };
    for n in 0..molts_core::gateway::REGISTRATIONS_PER_WINDOW as usize {
        let r = register(n, "81.2.69.160")
            .await
            .map_err(|e| e.to_string())?;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let refused = register(99, "81.2.69.160")
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    // Another client is not held back, nor one whose address the runtime could not tell.
    let r = register(100, "1.1.1.1").await.map_err(|e| e.to_string())?;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = register(101, "unknown").await.map_err(|e| e.to_string())?;
    assert_eq!(r.status(), StatusCode::CREATED);
    Ok(())
}

#[tokio::test]
async fn responses_refusals_answer_in_the_error_format_naming_the_param() -> Result<(), String> {
    let app = app().await?;
    let key = agent_key(&app).await?;
    for (body, code, param) in [
        (
            r#"{"model":"demo-text","input":"hi","previous_response_id":"resp_1"}"#,
            "invalid_value",
            "previous_response_id",
        ),
        (
            r#"{"model":"demo-text","input":[{"role":"user","content":[{"type":"input_image","image_url":"https://example.com/a.png"}]}]}"#,
            "invalid_value",
            "input[0].content[0]",
        ),
        (
            r#"{"model":"demo-text","input":"hi","tools":[{"type":"function","name":"f"}]}"#,
            "invalid_value",
            "tools",
        ),
        (
            r#"{"model":"demo-text","input":5}"#,
            "invalid_value",
            "input",
        ),
        (r#"{"model":"demo-text"}"#, "invalid_value", "input"),
        (
            r#"{"model":"no-such-model","input":"hi"}"#,
            "model_not_found",
            "model",
        ),
    ] {
        let r = send(
            &app,
            "POST",
            "/v1/responses",
            Some(&key),
            Some(Body::from(body)),
            true,
        )
        .await?;
        let status = if code == "model_not_found" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_error_shape(&r, status, code);
        assert_eq!(r.body["error"]["param"], param, "{body}");
    }
    let r = send(
        &app,
        "POST",
        "/v1/responses",
        Some(&key),
        Some(Body::from("{\"input\":")),
        true,
    )
    .await?;
    assert_error_shape(&r, StatusCode::BAD_REQUEST, "invalid_json");
    let r = send(&app, "POST", "/v1/responses", None, None, false).await?;
    assert_error_shape(&r, StatusCode::UNAUTHORIZED, "missing_api_key");
    Ok(())
}
