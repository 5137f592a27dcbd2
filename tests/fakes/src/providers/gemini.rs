//! The Gemini fake: `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`; image models (a name containing `image`) answer with an
//! inline PNG part.

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::respond::{self, Echo};
use crate::{Ctx, media};

const P: &str = "gemini";

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    let rest = ctx.path.strip_prefix("/v1beta/models/")?;
    let (model, action) = rest.split_once(':')?;
    if ctx.method != "POST" {
        return None;
    }
    match action {
        "generateContent" => Some(generate(ctx, model, false)),
        "streamGenerateContent" => Some(generate(ctx, model, true)),
        _ => None,
    }
}

/// `(role, text)` from `contents[].parts[].text`, or `None` when the shape is wrong.
fn contents(value: &Value) -> Option<Vec<(String, String)>> {
    let list = value.as_array().filter(|l| !l.is_empty())?;
    list.iter()
        .map(|c| {
            let role = c["role"].as_str().unwrap_or("user");
            let role = if role == "model" { "assistant" } else { role };
            let parts = c["parts"].as_array().filter(|p| !p.is_empty())?;
            let text: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
            Some((role.to_owned(), text.join(" ")))
        })
        .collect()
}

fn generate(ctx: &Ctx, model: &str, stream: bool) -> Response {
    let b = &ctx.body;
    let Some(mut messages) = contents(&b["contents"]) else {
        return respond::invalid(
            P,
            "* GenerateContentRequest.contents: contents is not specified",
        );
    };
    if let Some(system) = b["systemInstruction"]["parts"][0]["text"].as_str() {
        messages.insert(0, ("system".to_owned(), system.to_owned()));
    }
    let max = b["generationConfig"]["maxOutputTokens"].as_u64();
    let echo = Echo::new(&messages, max);
    let reason = if echo.truncated { "MAX_TOKENS" } else { "STOP" };
    let usage = json!({
        "promptTokenCount": echo.prompt_tokens,
        "candidatesTokenCount": echo.completion_tokens(),
        "totalTokenCount": echo.prompt_tokens + echo.completion_tokens(),
    });
    let candidate = |parts: Value, finish: Option<&str>| {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        c
    };
    if model.contains("image") {
        let prompt = messages.last().map(|(_, t)| t.as_str()).unwrap_or("");
        let png = media::png(media::colour(prompt));
        let parts = json!([
            {"text": "Here is your image."},
            {"inlineData": {"mimeType": "image/png",
                            "data": base64::engine::general_purpose::STANDARD.encode(png)}}
        ]);
        return axum::Json(json!({
            "candidates": [candidate(parts, Some("STOP"))],
            "usageMetadata": {"promptTokenCount": echo.prompt_tokens, "candidatesTokenCount": 1290,
                              "totalTokenCount": echo.prompt_tokens + 1290},
            "modelVersion": model,
        }))
        .into_response();
    }
    if !stream {
        return axum::Json(json!({
            "candidates": [candidate(json!([{"text": echo.text()}]), Some(reason))],
            "usageMetadata": usage,
            "modelVersion": model,
        }))
        .into_response();
    }
    if ctx.query.get("alt").map(String::as_str) != Some("sse") {
        return respond::invalid(P, "molts-fakes only streams with alt=sse");
    }
    let pieces = echo.pieces();
    let last = pieces.len().saturating_sub(1);
    let events = pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut chunk = json!({
                "candidates": [candidate(json!([{"text": piece}]), (i == last).then_some(reason))],
                "modelVersion": model,
            });
            if i == last {
                chunk["usageMetadata"] = usage.clone();
            }
            format!("data: {chunk}")
        })
        .collect();
    respond::sse(events, &ctx.fault)
}
