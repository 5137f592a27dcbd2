//! The Anthropic fake: `POST /v1/messages` with `x-api-key` and `anthropic-version`, system text
//! only in `system` (a `system` role in `messages` is refused, as by the real API), and the named
//! SSE events of a streamed message.

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{chat_messages, header};
use crate::Ctx;
use crate::respond::{self, Echo};

const P: &str = "anthropic";

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/v1/messages") => Some(messages(ctx)),
        _ => None,
    }
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}")
}

fn messages(ctx: &Ctx) -> Response {
    if header(ctx, "anthropic-version").is_none() {
        return respond::invalid(P, "anthropic-version: header is required");
    }
    let b = &ctx.body;
    let Some(model) = b["model"].as_str() else {
        return respond::invalid(P, "model: Field required");
    };
    let Some(max) = b["max_tokens"].as_u64().filter(|m| *m >= 1) else {
        return respond::invalid(P, "max_tokens: Field required");
    };
    let Some(mut messages) = chat_messages(&b["messages"]) else {
        return respond::invalid(P, "messages: at least one message is required");
    };
    if let Some((role, _)) = messages
        .iter()
        .find(|(r, _)| r != "user" && r != "assistant")
    {
        return respond::invalid(
            P,
            &format!(
                "messages: Unexpected role \"{role}\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role."
            ),
        );
    }
    if let Some(system) = b["system"].as_str() {
        messages.insert(0, ("system".to_owned(), system.to_owned()));
    }
    let echo = Echo::new(&messages, Some(max));
    let stop = if echo.truncated {
        "max_tokens"
    } else {
        "end_turn"
    };
    if b["stream"] != json!(true) {
        return axum::Json(json!({
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": echo.text()}],
            "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": echo.prompt_tokens, "output_tokens": echo.completion_tokens()},
        }))
        .into_response();
    }
    let mut events = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": echo.prompt_tokens, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        event("ping", json!({"type": "ping"})),
    ];
    for piece in echo.pieces() {
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    events.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
               "usage": {"output_tokens": echo.completion_tokens()}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    if let Some(n) = ctx.fault.error_event_after {
        events.truncate(n);
        events.push(event(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ));
    }
    respond::sse(events, &ctx.fault)
}
