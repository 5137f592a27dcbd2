//! The one handler every invocation reaches, whatever sent it.
//!
//! `lambda_http` turns API Gateway REST (v1) and HTTP API (v2) events, ALB target-group events and
//! function-URL events into an `http::Request`; with its `pass_through` feature every other event
//! arrives too, as a `POST /events` whose body is the event JSON and whose request context is
//! `PassThrough`. So the dispatch is:
//!
//! - an HTTP event → the shared `molts_http_api::router` (the API Gateway stage taken off the
//!   path first), and its response goes back in the shape the event's source expects;
//! - an EventBridge `Scheduled Event` → `Gateway::run_scheduled_work`, answered with its report;
//! - anything else → an invocation error, so a mis-wired trigger shows up in the function's
//!   error metrics instead of being acknowledged and dropped.
//!
//! There is no route here: the pass-through request never reaches the router.

use std::str::FromStr;

use axum::Router;
use lambda_http::http::uri::{PathAndQuery, Uri};
use lambda_http::http::{Response, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt};
use molts_core::Gateway;
use molts_http_api::{ApiState, request_log, router};
use serde_json::Value;
use tower::ServiceExt;

/// What a non-HTTP event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An EventBridge schedule: `"source":"aws.events"`, `"detail-type":"Scheduled Event"`.
    Scheduled,
    /// Something molts does not handle, described for the error (never the payload itself,
    /// which may hold anything).
    Unsupported(String),
}

/// Classifies a non-HTTP event by its JSON.
pub fn classify(event: &Value) -> Event {
    let field = |name: &str| event.get(name).and_then(Value::as_str);
    if field("source") == Some("aws.events") && field("detail-type") == Some("Scheduled Event") {
        return Event::Scheduled;
    }
    // Say what it looked like, from the fields event sources use to name themselves.
    let what = field("detail-type")
        .or_else(|| field("source"))
        .or_else(|| {
            event
                .get("Records")
                .and_then(|r| r.get(0))
                .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
                .and_then(Value::as_str)
        })
        .map_or_else(
            || "an event of unknown shape".to_owned(),
            |s| format!("a '{s}' event"),
        );
    Event::Unsupported(what)
}

/// The function's handler: the shared router plus the scheduled-work hook.
#[derive(Clone)]
pub struct Handler {
    gateway: Gateway,
    router: Router,
}

impl Handler {
    /// Builds the router over `gateway`, exactly as the standalone binary does (same state, same
    /// request log, `molts_http_api::request_log`: method, path, status and latency, never
    /// headers or a callback's token).
    pub fn new(gateway: Gateway, max_body_bytes: usize) -> Self {
        let state = ApiState {
            max_body_bytes,
            ..ApiState::new(gateway.clone())
        };
        Self {
            gateway,
            router: router(state).layer(request_log()),
        }
    }

    /// Handles one invocation, already turned into a request by `lambda_http`.
    pub async fn handle(&self, mut request: Request) -> Result<Response<Body>, Error> {
        if matches!(
            request.request_context_ref(),
            Some(RequestContext::PassThrough)
        ) {
            return self.event(request.body()).await;
        }
        strip_stage(&mut request);
        if let Some(address) = source_ip(&request) {
            request
                .extensions_mut()
                .insert(molts_http_api::ClientAddress(address));
        }
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        // lambda_http decides text or base64 from the content type, as `lambda_http::run` would.
        Ok(lambda_http::IntoResponse::into_response(response).await)
    }

    async fn event(&self, body: &[u8]) -> Result<Response<Body>, Error> {
        let event: Value = serde_json::from_slice(body)
            .map_err(|e| format!("molts cannot read this event as JSON: {e}"))?;
        match classify(&event) {
            Event::Scheduled => {
                let report = self.gateway.run_scheduled_work().await.map_err(|e| {
                    tracing::warn!(error = %e, "scheduled work failed");
                    format!("scheduled work failed: {e}")
                })?;
                tracing::info!(?report, "scheduled work");
                let json = serde_json::to_string(&report)?;
                Ok(Response::builder()
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::Text(json))?)
            }
            Event::Unsupported(what) => {
                tracing::warn!(event = %what, "unsupported event");
                Err(format!(
                    "molts handles HTTP events (API Gateway, ALB, function URLs) and EventBridge \
                     'Scheduled Event's, not {what}"
                )
                .into())
            }
        }
    }
}

/// The client's address as API Gateway saw it (REST, HTTP APIs and function URLs), for the
/// router's per-address limits. ALB events carry none (only a forwarded header).
fn source_ip(request: &Request) -> Option<std::net::IpAddr> {
    let ip = match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.as_deref(),
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref(),
        _ => None,
    }?;
    ip.parse().ok()
}

/// The API Gateway stage of an HTTP event, unless it is the `$default` stage (which is served at
/// the root and never appears in paths).
fn named_stage(request: &Request) -> Option<String> {
    let stage = match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.stage.clone(),
        RequestContext::ApiGatewayV2(context) => context.stage.clone(),
        _ => None,
    }?;
    (!stage.is_empty() && stage != "$default").then_some(stage)
}

/// Takes a named stage's leading `/{stage}` segment off the request path.
///
/// For REST APIs the event's `path` has no stage but `lambda_http` puts it back in front (so
/// `GET /prod/v1/agents/me` on the invoke URL arrives as `/prod/v1/agents/me`); for HTTP APIs on
/// a named stage API Gateway itself leaves it in `rawPath`. Either way the router's paths start at
/// `/v1`, so one leading stage segment is removed. This also makes
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` unnecessary (and harmless if set). ALB and function-URL
/// events carry no stage and are left alone.
pub fn strip_stage(request: &mut Request) {
    let Some(stage) = named_stage(request) else {
        return;
    };
    let uri = request.uri();
    let Some(rest) = uri.path().strip_prefix(&format!("/{stage}")) else {
        return;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        // `/production/…` under a stage named `prod`: not a stage segment.
        return;
    }
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::from_str(&path_and_query) else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_eventbridge_schedule_is_scheduled_work() {
        let event = json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2025-10-08T16:53:06Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/molts-scheduled-work"],
            "detail": {}
        });
        assert_eq!(classify(&event), Event::Scheduled);
    }

    #[test]
    fn other_events_are_named_not_handled() {
        let custom = json!({"source": "acme.billing", "detail-type": "Invoice Paid"});
        assert_eq!(
            classify(&custom),
            Event::Unsupported("a 'Invoice Paid' event".into())
        );
        // A scheduled-looking event from another source is not ours to run.
        let spoofed = json!({"source": "acme", "detail-type": "Scheduled Event"});
        assert!(matches!(classify(&spoofed), Event::Unsupported(_)));
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": "secret"}]});
        assert_eq!(
            classify(&sqs),
            Event::Unsupported("a 'aws:sqs' event".into())
        );
        let sns = json!({"Records": [{"EventSource": "aws:sns"}]});
        assert_eq!(
            classify(&sns),
            Event::Unsupported("a 'aws:sns' event".into())
        );
        assert_eq!(
            classify(&json!({"hello": "world"})),
            Event::Unsupported("an event of unknown shape".into())
        );
    }

    fn v1_event(stage: &str, path: &str, query: &str) -> String {
        json!({
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": "GET",
            "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {"Host": ["abc123.execute-api.us-east-1.amazonaws.com"]},
            "queryStringParameters": if query.is_empty() { Value::Null } else { json!({"type": query}) },
            "multiValueQueryStringParameters": if query.is_empty() { Value::Null } else { json!({"type": [query]}) },
            "requestContext": {
                "resourcePath": "/{proxy+}",
                "httpMethod": "GET",
                "path": format!("/{stage}{path}"),
                "stage": stage,
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "accountId": "123456789012",
                "apiId": "abc123",
                "identity": {"sourceIp": "203.0.113.7"}
            },
            "body": null,
            "isBase64Encoded": false
        })
        .to_string()
    }

    fn v2_event(stage: &str, raw_path: &str) -> String {
        json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": "",
            "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
                "requestId": "JKJaXmPLvHcESHA=",
                "routeKey": "$default",
                "stage": stage,
                "time": "10/Mar/2025:13:40:52 +0000",
                "timeEpoch": 1741614052000_u64
            },
            "isBase64Encoded": false
        })
        .to_string()
    }

    /// The path `lambda_http` made of the event, and what is left after [`strip_stage`].
    fn paths(event: &str) -> Result<(String, String), String> {
        let mut request = lambda_http::request::from_str(event).map_err(|e| e.to_string())?;
        let before = request.uri().path().to_owned();
        strip_stage(&mut request);
        let after = request
            .uri()
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default();
        Ok((before, after))
    }

    fn path_after_strip(event: &str) -> Result<String, String> {
        Ok(paths(event)?.1)
    }

    #[test]
    fn lambda_http_puts_the_rest_stage_in_front_of_the_path() -> Result<(), String> {
        // The reason strip_stage exists: without it the router would see /prod/v1/agents/me.
        let (before, after) = paths(&v1_event("prod", "/v1/agents/me", ""))?;
        assert_eq!(before, "/prod/v1/agents/me");
        assert_eq!(after, "/v1/agents/me");
        Ok(())
    }

    #[test]
    fn the_rest_api_stage_comes_off_the_path() -> Result<(), String> {
        assert_eq!(
            path_after_strip(&v1_event("prod", "/v1/agents/me", ""))?,
            "/v1/agents/me"
        );
        assert_eq!(
            path_after_strip(&v1_event("prod", "/v1/models", "image"))?,
            "/v1/models?type=image"
        );
        assert_eq!(path_after_strip(&v1_event("prod", "/", ""))?, "/");
        Ok(())
    }

    #[test]
    fn the_http_api_stage_comes_off_raw_path_once() -> Result<(), String> {
        assert_eq!(
            path_after_strip(&v2_event("prod", "/prod/v1/usage"))?,
            "/v1/usage"
        );
        // A stage named like the API's first segment: only the stage's own segment goes.
        assert_eq!(
            path_after_strip(&v2_event("v1", "/v1/v1/usage"))?,
            "/v1/usage"
        );
        // The $default stage (and so every function URL) is served at the root.
        assert_eq!(
            path_after_strip(&v2_event("$default", "/v1/usage"))?,
            "/v1/usage"
        );
        // A segment that merely starts with the stage name is not the stage.
        assert_eq!(
            path_after_strip(&v2_event("prod", "/production/v1/usage"))?,
            "/production/v1/usage"
        );
        Ok(())
    }
}
