//! The Gemini fake: `POST /v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`; image models (a name containing `image`) answer with an
//! inline PNG part. Veo models (a name containing `veo`) take `:predictLongRunning` and answer
//! an operation, polled at `GET /v1beta/models/{model}/operations/{id}` until `done` with the
//! video's URI (served by the fake) or an `error`; a prompt containing `unsafe` finishes with
//! its sample filtered out.

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::jobs::{NewJob, Stage};
use crate::respond::{self, Echo};
use crate::{Ctx, media};

const P: &str = "gemini";

pub(crate) fn handle(ctx: &Ctx) -> Option<Response> {
    let rest = ctx.path.strip_prefix("/v1beta/models/")?;
    if ctx.method == "GET" {
        let (model, id) = rest.split_once("/operations/")?;
        return Some(operation(ctx, model, id));
    }
    let (model, action) = rest.split_once(':')?;
    if ctx.method != "POST" {
        return None;
    }
    match action {
        "generateContent" => Some(generate(ctx, model, false)),
        "streamGenerateContent" => Some(generate(ctx, model, true)),
        "predictLongRunning" => Some(predict(ctx, model)),
        _ => None,
    }
}

fn not_found(model: &str, action: &str) -> Response {
    respond::error(
        P,
        404,
        &format!(
            "models/{model} is not found for API version v1beta, or is not supported for {action}."
        ),
    )
}

/// Starts a Veo operation after checking the instance and the parameters.
fn predict(ctx: &Ctx, model: &str) -> Response {
    if !model.contains("veo") {
        return not_found(model, "predictLongRunning");
    }
    let Some(prompt) = ctx.body["instances"][0]["prompt"]
        .as_str()
        .filter(|p| !p.trim().is_empty())
    else {
        return respond::invalid(
            P,
            "* PredictLongRunningRequest.instances[0].prompt: required",
        );
    };
    let params = &ctx.body["parameters"];
    if let Some(a) = params.get("aspectRatio")
        && !matches!(a.as_str(), Some("16:9" | "9:16"))
    {
        return respond::invalid(P, "aspectRatio must be 16:9 or 9:16");
    }
    if let Some(d) = params.get("durationSeconds")
        && !d.as_u64().is_some_and(|d| (4..=8).contains(&d))
    {
        return respond::invalid(P, "durationSeconds must be between 4 and 8");
    }
    if let Some(n) = params.get("sampleCount")
        && !n.as_u64().is_some_and(|n| (1..=4).contains(&n))
    {
        return respond::invalid(P, "sampleCount must be between 1 and 4");
    }
    let job = ctx.shared.jobs().submit(
        NewJob {
            provider: P,
            duration: params["durationSeconds"].as_f64(),
            ext: "mp4",
            echo: json!({"model": model, "text": prompt, "unsafe": prompt.contains("unsafe")}),
            callback_url: None,
            id: |n| format!("{:012x}", 0x9d2f_c0b5_u64 + n),
        },
        &ctx.fault,
    );
    axum::Json(json!({"name": format!("models/{model}/operations/{}", job.id), "done": false}))
        .into_response()
}

/// Where a Veo operation stands; unfinished ones leave `done` out, as the real API does.
fn operation(ctx: &Ctx, model: &str, id: &str) -> Response {
    let polled = ctx.shared.poll_job(P, id);
    let Some((stage, job)) = polled.filter(|(_, j)| j.echo["model"] == json!(model)) else {
        return respond::error(
            P,
            404,
            &format!("Operation models/{model}/operations/{id} not found"),
        );
    };
    let name = format!("models/{model}/operations/{id}");
    match stage {
        Stage::Queued | Stage::Processing(_) => axum::Json(json!({"name": name})).into_response(),
        Stage::Failed(message) => axum::Json(json!({
            "name": name, "done": true, "error": {"code": 13, "message": message},
        }))
        .into_response(),
        Stage::Ready => {
            let samples = if job.echo["unsafe"] == json!(true) {
                json!({"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [
                    "The prompt was blocked by the fake safety filter."
                ]})
            } else {
                json!({"generatedSamples": [{"video": {"uri": job.url(&ctx.origin), "encoding": "video/mp4"}}]})
            };
            axum::Json(json!({"name": name, "done": true, "response": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                "generateVideoResponse": samples,
            }}))
            .into_response()
        }
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
