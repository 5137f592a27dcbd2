//! Real event JSON from each front door (API Gateway REST and HTTP APIs, ALB, function URLs,
//! an EventBridge schedule) through the real `bootstrap` binary in the real `lambda_runtime`
//! loop, asserting on the exact JSON the function hands back to Lambda. Fixtures live in
//! `tests/fixtures/`; `{{API_KEY}}` in them is replaced with a key registered in the same test.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::{Function, Outcome, body_json, bootstrap, fixture, lambda_env, wait_exit};

/// The values of `name` in a response's `multiValueHeaders` (header names are lower-case).
fn multi(response: &Value, name: &str) -> Vec<String> {
    response
        .get("multiValueHeaders")
        .and_then(|h| h.get(name))
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn header<'a>(response: &'a Value, name: &str) -> Option<&'a str> {
    response.get("headers")?.get(name)?.as_str()
}

fn status(response: &Value) -> Option<i64> {
    response.get("statusCode").and_then(Value::as_i64)
}

/// Registers an agent through the REST API fixture and returns its key.
async fn register_via_rest(function: &mut Function) -> Result<String, String> {
    let response = function
        .respond(&fixture("apigw-rest-register.json", "")?)
        .await?;
    let body = body_json(&response)?;
    body.get("api_key")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no api_key in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_api_v1_base64_body_multi_value_headers_and_stage() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut function = Function::start(dir.path()).await?;

    // POST /prod/v1/agents/register: a base64-encoded JSON body, headers in multiValueHeaders.
    let response = function
        .respond(&fixture("apigw-rest-register.json", "")?)
        .await?;
    assert_eq!(status(&response), Some(201), "{response}");
    // REST APIs get every header in multiValueHeaders and none in headers (API Gateway merges
    // the two, so filling both would duplicate each header).
    assert_eq!(
        multi(&response, "x-request-id"),
        ["fixture-rest-register-0001"],
        "the caller's X-Request-Id comes back: {response}"
    );
    assert_eq!(
        multi(&response, "content-type"),
        ["application/json"],
        "{response}"
    );
    assert!(
        response
            .get("headers")
            .and_then(Value::as_object)
            .is_none_or(|h| h.is_empty()),
        "{response}"
    );
    assert_eq!(response.get("isBase64Encoded"), Some(&Value::Bool(false)));
    let registered = body_json(&response)?;
    assert_eq!(registered["name"], "Ada");
    assert_eq!(registered["email"], "ada@example.com");
    assert_eq!(registered["instance_id"], "default");
    let key = registered["api_key"]
        .as_str()
        .ok_or("no api_key")?
        .to_owned();
    assert!(key.starts_with("ml_"), "{key}");

    // GET /prod/v1/agents/me on the prod stage reaches /v1/agents/me.
    let response = function
        .respond(&fixture("apigw-rest-me.json", &key)?)
        .await?;
    assert_eq!(status(&response), Some(200), "{response}");
    let me = body_json(&response)?;
    assert_eq!(me["agent_id"], registered["agent_id"]);
    assert_eq!(me["soul_md"], "# Ada\nI make short films.");
    let ids = multi(&response, "x-request-id");
    assert!(
        ids.len() == 1 && !ids[0].is_empty(),
        "a request id is made when none is sent: {response}"
    );

    // The same request with a wrong key: the one error format, through the same path.
    let response = function
        .respond(&fixture("apigw-rest-me.json", "ml_not-a-key")?)
        .await?;
    assert_eq!(status(&response), Some(401), "{response}");
    let error = body_json(&response)?;
    assert!(error["error"]["message"].is_string(), "{error}");
    assert!(error["error"]["type"].is_string(), "{error}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_v2_on_a_named_stage() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut function = Function::start(dir.path()).await?;
    let key = register_via_rest(&mut function).await?;

    // rawPath is /prod/v1/models: HTTP APIs keep a named stage in the path.
    let response = function
        .respond(&fixture("apigw-http-models.json", &key)?)
        .await?;
    assert_eq!(status(&response), Some(200), "{response}");
    // HTTP APIs take single-value headers (repeated ones comma-joined), no multiValueHeaders.
    assert!(
        header(&response, "x-request-id").is_some_and(|id| !id.is_empty()),
        "{response}"
    );
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let list = body_json(&response)?;
    assert_eq!(list["object"], "list", "{list}");
    let models = list["data"].as_array().ok_or("no data")?;
    assert!(!models.is_empty(), "the seeded catalogue is listed: {list}");

    // Without the key the same event is refused.
    let response = function
        .respond(&fixture("apigw-http-models.json", "")?)
        .await?;
    assert_eq!(status(&response), Some(401), "{response}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alb_with_multi_value_headers() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut function = Function::start(dir.path()).await?;
    let key = register_via_rest(&mut function).await?;

    let response = function.respond(&fixture("alb-usage.json", &key)?).await?;
    assert_eq!(status(&response), Some(200), "{response}");
    // ALB needs a status description, and answers in whichever header mode the target group
    // uses, so both header fields are filled.
    assert_eq!(
        response.get("statusDescription").and_then(Value::as_str),
        Some("200 OK")
    );
    assert_eq!(multi(&response, "x-request-id"), ["fixture-alb-usage-0001"]);
    assert_eq!(
        header(&response, "x-request-id"),
        Some("fixture-alb-usage-0001")
    );
    let usage = body_json(&response)?;
    assert!(usage.is_object(), "{usage}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_url_events() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut function = Function::start(dir.path()).await?;

    let response = function
        .respond(&fixture("function-url-register.json", "")?)
        .await?;
    assert_eq!(status(&response), Some(201), "{response}");
    assert!(header(&response, "x-request-id").is_some(), "{response}");
    let registered = body_json(&response)?;
    assert_eq!(registered["name"], "Grace");

    // A base64 body that decodes to broken JSON: a 400 in the one error format, not a crash.
    let response = function
        .respond(&fixture("function-url-invalid-json.json", "")?)
        .await?;
    assert_eq!(status(&response), Some(400), "{response}");
    assert!(header(&response, "x-request-id").is_some(), "{response}");
    let error = body_json(&response)?;
    assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");

    let response = function
        .respond(&fixture("function-url-unknown-route.json", "")?)
        .await?;
    assert_eq!(status(&response), Some(404), "{response}");
    assert_eq!(body_json(&response)?["error"]["code"], "route_not_found");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eventbridge_schedule_runs_the_scheduled_work() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut function = Function::start(dir.path()).await?;
    let report = function
        .respond(&fixture("eventbridge-scheduled.json", "")?)
        .await?;
    // The hook's report, as JSON: on a fresh database there is nothing to advance or expire.
    let idle = serde_json::to_value(molts_core::gateway::ScheduledReport::default())
        .map_err(|e| e.to_string())?;
    assert_eq!(report, idle);
    assert_eq!(report["jobs_advanced"], 0, "{report}");
    assert!(
        function.wait_for_log("scheduled work").await,
        "{}",
        function.logs()
    );
    // The function keeps serving HTTP after a scheduled run.
    let response = function
        .respond(&fixture("function-url-register.json", "")?)
        .await?;
    assert_eq!(status(&response), Some(201), "{response}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_events_fail_the_invocation() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut function = Function::start(dir.path()).await?;
    match function.invoke(&fixture("sqs-message.json", "")?).await? {
        Outcome::Error(error) => {
            let message = error["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("'aws:sqs'"), "{error}");
            // The payload itself is never echoed into errors or logs.
            assert!(!message.contains("hello"), "{error}");
        }
        Outcome::Response(value) => return Err(format!("an SQS event was answered: {value}")),
    }
    // The runtime loop goes on after a failed invocation.
    let report = function
        .respond(&fixture("eventbridge-scheduled.json", "")?)
        .await?;
    assert_eq!(report["jobs_advanced"], 0);
    Ok(())
}

#[test]
fn a_cold_start_without_the_admin_token_fails_clearly() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("molts.db").to_string_lossy()
    );
    let mut cmd = bootstrap();
    // Nothing listens here: the process must fail before it ever asks for an event.
    lambda_env(&mut cmd, "127.0.0.1:9".parse().map_err(|e| format!("{e}"))?);
    let mut child = cmd
        .env("MOLTS_DATABASE_URL", &url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let status = wait_exit(&mut child, Duration::from_secs(30))?;
    assert_eq!(status.code(), Some(2));
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).map_err(|e| e.to_string())?;
    }
    assert!(
        stderr.contains("molts: configuration error: MOLTS_ADMIN_TOKEN is not set"),
        "{stderr}"
    );
    // Nothing was created: the failure came before the database was touched.
    assert!(!dir.path().join("molts.db").exists());
    Ok(())
}

#[test]
fn a_cold_start_with_a_short_admin_token_fails_before_serving() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("molts.db").to_string_lossy()
    );
    let mut cmd = bootstrap();
    lambda_env(&mut cmd, "127.0.0.1:9".parse().map_err(|e| format!("{e}"))?);
    let mut child = cmd
        .env("MOLTS_DATABASE_URL", &url)
        .env("MOLTS_ADMIN_TOKEN", "too-short")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let status = wait_exit(&mut child, Duration::from_secs(30))?;
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).map_err(|e| e.to_string())?;
    }
    assert!(stderr.contains("molts: bootstrap failed"), "{stderr}");
    assert!(stderr.contains("32 characters"), "{stderr}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_limited_per_source_ip() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut function = Function::start(dir.path()).await?;
    // The function URL fixture, from a public address, with a new email each time.
    let from = |ip: &str, n: u32| -> Result<String, String> {
        Ok(fixture("function-url-register.json", "")?
            .replace("203.0.113.7", ip)
            .replace("grace@example.com", &format!("grace{n}@example.com")))
    };
    // The windows follow the real clock, so the requests may straddle two of them: twice the
    // limit plus one still puts more than the limit into one window.
    let limit = molts_core::gateway::REGISTRATIONS_PER_WINDOW;
    let mut refused = None;
    for n in 0..=2 * limit {
        let response = function.respond(&from("81.2.69.160", n)?).await?;
        match status(&response) {
            Some(201) => {}
            Some(429) => refused = Some(response),
            _ => return Err(format!("unexpected answer: {response}")),
        }
    }
    let refused = refused.ok_or("no registration was refused")?;
    assert!(header(&refused, "retry-after").is_some(), "{refused}");
    let response = function.respond(&from("1.1.1.1", 100)?).await?;
    assert_eq!(status(&response), Some(201), "another address: {response}");
    Ok(())
}
