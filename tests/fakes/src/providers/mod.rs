//! Per-provider fakes: who may call (each provider's own auth header, and its own refusal), and
//! which endpoint answers a path.

mod anthropic;
mod elevenlabs;
mod gemini;
mod heygen;
mod ideogram;
mod openai;
mod pexels;
mod shotstack;
mod tavus;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::jobs::{Job, Stage};
use crate::respond;
use crate::{Ctx, key};

/// The body `job`'s provider sends to its callbacks when it finishes at `stage`, or `None` for
/// providers that send none (Veo is polled only).
pub(crate) fn callback_body(job: &Job, stage: &Stage, origin: &str) -> Option<serde_json::Value> {
    match job.provider.as_str() {
        "heygen" => heygen::callback(job, stage, origin),
        "tavus" => tavus::callback(job, stage, origin),
        "shotstack" => shotstack::callback(job, stage, origin),
        _ => None,
    }
}

fn header<'a>(ctx: &'a Ctx, name: &str) -> Option<&'a str> {
    ctx.headers.get(name).and_then(|v| v.to_str().ok())
}

/// `None` when the request carries `provider`'s key the way the provider wants it; otherwise
/// the refusal that provider sends.
pub(crate) fn check_auth(provider: &str, ctx: &Ctx) -> Option<Response> {
    let expected = key(provider);
    let presented = match provider {
        "openai" => header(ctx, "authorization").and_then(|v| v.strip_prefix("Bearer ")),
        "anthropic" => header(ctx, "x-api-key"),
        "gemini" => header(ctx, "x-goog-api-key").or(ctx.query.get("key").map(String::as_str)),
        "ideogram" => header(ctx, "api-key"),
        "elevenlabs" => header(ctx, "xi-api-key"),
        "heygen" | "tavus" | "shotstack" => header(ctx, "x-api-key"),
        // Pexels takes the raw key, no `Bearer`.
        _ => header(ctx, "authorization"),
    };
    if presented == Some(expected.as_str()) {
        return None;
    }
    Some(match (provider, presented) {
        // Like the real one, OpenAI echoes (part of) the wrong key: molts must not pass it on.
        ("openai", Some(wrong)) => respond::error(
            provider,
            401,
            &format!(
                "Incorrect API key provided: {wrong}. You can find your API key at https://platform.openai.com/account/api-keys."
            ),
        ),
        ("openai", None) => respond::error(
            provider,
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ),
        ("anthropic", _) => respond::error(provider, 401, "invalid x-api-key"),
        // Gemini answers a wrong key with 400 and reason API_KEY_INVALID, a missing one with 403.
        ("gemini", Some(_)) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [{
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com"
                }]
            }})),
        )
            .into_response(),
        ("gemini", None) => respond::error(
            provider,
            403,
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
        ),
        ("elevenlabs", _) => (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}),
            ),
        )
            .into_response(),
        ("tavus", _) => respond::error(provider, 401, "Invalid access token"),
        // Shotstack's AWS gateway refuses before the API sees the request.
        ("shotstack", _) => respond::error(provider, 403, "Forbidden"),
        _ => respond::error(provider, 401, "Unauthorized: invalid or missing API key"),
    })
}

/// The endpoint for the request's path, or the provider's 404.
pub(crate) async fn handle(provider: &str, ctx: &Ctx) -> Response {
    let found = match provider {
        "openai" => openai::handle(ctx),
        "anthropic" => anthropic::handle(ctx),
        "gemini" => gemini::handle(ctx),
        "ideogram" => ideogram::handle(ctx),
        "elevenlabs" => elevenlabs::handle(ctx),
        "heygen" => heygen::handle(ctx),
        "tavus" => tavus::handle(ctx),
        "shotstack" => shotstack::handle(ctx),
        _ => pexels::handle(ctx),
    };
    found.unwrap_or_else(|| {
        respond::error(
            provider,
            404,
            &format!("no route for {} {}", ctx.method, ctx.path),
        )
    })
}

/// `(role, text)` pairs from `[{role, content}]` where content is a string, or `None` when the
/// shape is wrong.
pub(crate) fn chat_messages(value: &serde_json::Value) -> Option<Vec<(String, String)>> {
    let list = value.as_array()?;
    if list.is_empty() {
        return None;
    }
    list.iter()
        .map(|m| {
            Some((
                m["role"].as_str()?.to_owned(),
                m["content"].as_str()?.to_owned(),
            ))
        })
        .collect()
}
