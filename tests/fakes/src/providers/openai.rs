//! The OpenAI fake: `/v1/chat/completions` (streaming with `include_usage`), `/v1/images/
//! generations` (DALL-E 3 takes one image a request, as the real one), `/v1/audio/speech` and
//! `/v1/models`.

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::chat_messages;
use crate::respond::{self, Echo};
use crate::{Ctx, media};

const P: &str = "openai";
const CREATED: u64 = 1_741_569_952;

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    Some(match (ctx.method.as_str(), ctx.path.as_str()) {
        ("POST", "/v1/chat/completions") => chat(ctx),
        ("POST", "/v1/images/generations") => images(ctx),
        ("POST", "/v1/audio/speech") => speech(ctx),
        ("GET", "/v1/models") => axum::Json(json!({"object": "list", "data": [
            {"id": "gpt-4o", "object": "model", "created": CREATED, "owned_by": "openai"},
            {"id": "gpt-4o-mini", "object": "model", "created": CREATED, "owned_by": "openai"},
        ]}))
        .into_response(),
        _ => return None,
    })
}

fn chat(ctx: &Ctx) -> Response {
    let b = &ctx.body;
    let Some(model) = b["model"].as_str() else {
        return respond::invalid(P, "you must provide a model parameter");
    };
    let Some(messages) = chat_messages(&b["messages"]) else {
        return respond::invalid(P, "'messages' must be a non-empty array of {role, content}");
    };
    let max = b["max_completion_tokens"]
        .as_u64()
        .or(b["max_tokens"].as_u64());
    let echo = Echo::new(&messages, max);
    let reason = if echo.truncated { "length" } else { "stop" };
    let usage = json!({
        "prompt_tokens": echo.prompt_tokens,
        "completion_tokens": echo.completion_tokens(),
        "total_tokens": echo.prompt_tokens + echo.completion_tokens(),
    });
    if b["stream"] != json!(true) {
        return axum::Json(json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": CREATED, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": echo.text(), "refusal": null},
                         "logprobs": null, "finish_reason": reason}],
            "usage": usage,
        }))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": CREATED,
                   "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for piece in echo.pieces() {
        events.push(chunk(json!({"content": piece}), Value::Null));
    }
    events.push(chunk(json!({}), json!(reason)));
    if b["stream_options"]["include_usage"] == json!(true) {
        events.push(format!(
            "data: {}",
            json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": CREATED,
                   "model": model, "choices": [], "usage": usage})
        ));
    }
    events.push("data: [DONE]".to_owned());
    if let Some(n) = ctx.fault.error_event_after {
        events.truncate(n);
        events.push(format!(
            "data: {}",
            json!({"error": {"message": "The server had an error while processing your request.",
                             "type": "server_error", "param": null, "code": null}})
        ));
    }
    respond::sse(events, &ctx.fault)
}

fn images(ctx: &Ctx) -> Response {
    let b = &ctx.body;
    let Some(prompt) = b["prompt"].as_str().filter(|p| !p.is_empty()) else {
        return respond::invalid(P, "'prompt' is a required property");
    };
    let model = b["model"].as_str().unwrap_or("dall-e-2");
    let n = b["n"].as_u64().unwrap_or(1);
    if model == "dall-e-3" && n != 1 {
        return respond::invalid(P, "You must provide n=1 for this model.");
    }
    if !(1..=10).contains(&n) {
        return respond::invalid(P, "'n' must be between 1 and 10");
    }
    let format = b["response_format"].as_str().unwrap_or("url");
    let data: Vec<Value> = (0..n)
        .map(|i| {
            let rgb = media::colour(&format!("{prompt}#{i}"));
            let mut item = if format == "b64_json" {
                json!({"b64_json": base64::engine::general_purpose::STANDARD.encode(media::png(rgb))})
            } else {
                json!({"url": format!("{}/_fake/images/{}.png", ctx.origin, media::hex(rgb))})
            };
            if model == "dall-e-3" {
                item["revised_prompt"] = json!(format!("A detailed picture of {prompt}"));
            }
            item
        })
        .collect();
    axum::Json(json!({"created": CREATED, "data": data})).into_response()
}

fn speech(ctx: &Ctx) -> Response {
    let b = &ctx.body;
    let Some(input) = b["input"].as_str().filter(|i| !i.is_empty()) else {
        return respond::invalid(P, "'input' is a required property");
    };
    if input.chars().count() > 4096 {
        return respond::invalid(P, "'input' is too long: at most 4096 characters");
    }
    if b["model"].as_str().is_none() || b["voice"].as_str().is_none() {
        return respond::invalid(P, "'model' and 'voice' are required properties");
    }
    match b["response_format"].as_str().unwrap_or("mp3") {
        "mp3" => respond::audio(media::mp3(input), "audio/mpeg", &ctx.fault),
        "wav" => respond::audio(media::wav(input, 24_000), "audio/wav", &ctx.fault),
        "pcm" => respond::audio(media::pcm(input, 24_000), "audio/pcm", &ctx.fault),
        // Not real encodings: adapters fall back to an estimate for these.
        "opus" => respond::audio(b"OggS-fake".to_vec(), "audio/ogg", &ctx.fault),
        "aac" => respond::audio(b"aac-fake".to_vec(), "audio/aac", &ctx.fault),
        "flac" => respond::audio(b"fLaC-fake".to_vec(), "audio/flac", &ctx.fault),
        other => respond::invalid(
            P,
            &format!("'{other}' is not one of mp3, opus, aac, flac, wav, pcm"),
        ),
    }
}
