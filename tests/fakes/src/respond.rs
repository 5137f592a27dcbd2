//! Responses every fake provider shares: each provider's own error body for a status, retry
//! headers, malformed bodies, SSE and byte streams that can be cut mid-way, and the deterministic
//! echo that fake text models answer with.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::json;

use crate::Ctx;
use crate::faults::Fault;

/// `provider`'s error body for `status`, in its own shape.
pub(crate) fn error(provider: &str, status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match provider {
        "openai" => {
            let (kind, code) = match status {
                401 => ("invalid_request_error", json!("invalid_api_key")),
                429 => ("requests", json!("rate_limit_exceeded")),
                s if s >= 500 => ("server_error", json!(null)),
                _ => ("invalid_request_error", json!(null)),
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        }
        "anthropic" => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"})
        }
        "gemini" => {
            let kind = match status {
                400 => "INVALID_ARGUMENT",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                503 => "UNAVAILABLE",
                _ => "INTERNAL",
            };
            json!({"error": {"code": status, "message": message, "status": kind, "details": []}})
        }
        "elevenlabs" => {
            json!({"detail": {"type": "error", "status": format!("http_{status}"), "message": message}})
        }
        "heygen" => {
            let code = match status {
                400 | 422 => "invalid_parameter",
                401 | 403 => "authentication_failed",
                404 => "not_found",
                429 => "rate_limit_exceeded",
                _ => "internal_error",
            };
            json!({"data": null, "error": {"code": code, "message": message}})
        }
        "tavus" => json!({"message": message}),
        "shotstack" => {
            // Validation errors come from the API; auth and rate limits from its AWS gateway.
            let mut response = match status {
                400 => (
                    code,
                    axum::Json(
                        json!({"success": false, "message": "Bad Request", "response": {
                            "error": {"name": "ValidationError", "details": [{"message": message}]}
                        }}),
                    ),
                )
                    .into_response(),
                403 | 429 => (code, axum::Json(json!({"message": message}))).into_response(),
                _ => (
                    code,
                    axum::Json(json!({"success": false, "message": message, "response": {}})),
                )
                    .into_response(),
            };
            let kind = match status {
                403 => Some("AccessDeniedException"),
                429 => Some("TooManyRequestsException"),
                _ => None,
            };
            if let Some(kind) = kind {
                response
                    .headers_mut()
                    .insert("x-amzn-errortype", HeaderValue::from_static(kind));
            }
            return response;
        }
        // Ideogram and Pexels answer `{"error": "..."}`.
        _ => json!({"error": message}),
    };
    (code, axum::Json(body)).into_response()
}

/// A provider's validation failure: 400 with its error body naming the problem.
pub(crate) fn invalid(provider: &str, message: &str) -> Response {
    error(provider, 400, message)
}

/// Adds the fault's `Retry-After` / `retry-after-ms` headers.
pub(crate) fn retry_headers(response: &mut Response, fault: &Fault) {
    if let Some(v) = fault
        .retry_after
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert("retry-after", v);
    }
    if let Some(ms) = fault.retry_after_ms {
        response
            .headers_mut()
            .insert("retry-after-ms", HeaderValue::from(ms));
    }
}

/// A 200 that is not what the provider sends: broken JSON, or an SSE stream of it.
pub(crate) fn malformed(ctx: &Ctx) -> Response {
    let streaming = ctx.body["stream"] == json!(true) || ctx.path.contains("streamGenerateContent");
    if streaming {
        (
            [("content-type", "text/event-stream")],
            "data: {\"this is\": not json\n\n",
        )
            .into_response()
    } else {
        (
            [("content-type", "application/json")],
            "{\"unterminated\": [1, 2",
        )
            .into_response()
    }
}

/// Items of a body, broken off after `cut` of them (the connection is aborted, as a dropped
/// upstream would be).
fn cut_body(items: Vec<Bytes>, cut: Option<usize>) -> Body {
    let total = items.len();
    let keep = cut.unwrap_or(total).min(total);
    let broken = cut.is_some_and(|c| c < total);
    let head = futures::stream::iter(items.into_iter().take(keep)).then(|b| async move {
        // A pause between pieces so clients see them arrive separately.
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok::<_, std::io::Error>(b)
    });
    let tail = futures::stream::iter(
        broken.then(|| Err(std::io::Error::other("molts-fakes cut the stream"))),
    );
    Body::from_stream(head.chain(tail))
}

/// An SSE response of `events` (each already `event:`/`data:` lines), cut per the fault.
pub(crate) fn sse(events: Vec<String>, fault: &Fault) -> Response {
    let items = events
        .into_iter()
        .map(|e| Bytes::from(format!("{e}\n\n")))
        .collect();
    (
        [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        cut_body(items, fault.cut_stream_after),
    )
        .into_response()
}

/// Audio bytes in 4 KiB pieces, cut per the fault.
pub(crate) fn audio(bytes: Vec<u8>, content_type: &'static str, fault: &Fault) -> Response {
    let items = bytes
        .chunks(4096)
        .map(Bytes::copy_from_slice)
        .collect::<Vec<_>>();
    (
        [("content-type", content_type)],
        cut_body(items, fault.cut_stream_after),
    )
        .into_response()
}

/// Decodes `%XX` and `+` in a query value.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a fake text model answers: `echo: ` and the last user message, one token a word.
pub(crate) struct Echo {
    /// The words generated, in order.
    pub(crate) words: Vec<String>,
    /// Words in every message plus one per message.
    pub(crate) prompt_tokens: u64,
    /// Whether `max_tokens` cut the answer.
    pub(crate) truncated: bool,
}

impl Echo {
    /// The answer to `messages` (`(role, text)`), cut at `max_tokens` words.
    pub(crate) fn new(messages: &[(String, String)], max_tokens: Option<u64>) -> Self {
        let prompt_tokens = messages
            .iter()
            .map(|(_, text)| text.split_whitespace().count() as u64 + 1)
            .sum();
        let last = messages
            .iter()
            .rev()
            .find(|(role, _)| role == "user")
            .map(|(_, t)| t.as_str())
            .unwrap_or("");
        let mut words: Vec<String> = std::iter::once("echo:")
            .chain(last.split_whitespace())
            .map(str::to_owned)
            .collect();
        let max = max_tokens.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
        let truncated = words.len() > max;
        words.truncate(max);
        Self {
            words,
            prompt_tokens,
            truncated,
        }
    }

    /// The whole answer.
    pub(crate) fn text(&self) -> String {
        self.words.join(" ")
    }

    /// Tokens generated.
    pub(crate) fn completion_tokens(&self) -> u64 {
        self.words.len() as u64
    }

    /// The answer in stream pieces: each word, with the space before it.
    pub(crate) fn pieces(&self) -> Vec<String> {
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 { w.clone() } else { format!(" {w}") })
            .collect()
    }
}
