//! The OpenAI-compatible API: `/v1/chat/completions` (streaming too), `/v1/images/generations`
//! and `/v1/audio/speech`, in OpenAI's shapes so its SDKs work unmodified. Unknown request
//! fields are ignored here (SDKs send ones molts has no use for); wrong types are still 400s.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use futures::StreamExt;
use molts_core::Error;
use molts_core::domain::Modality;
use molts_core::gateway::AgentPrincipal;
use molts_core::providers::{
    ChatMessage, FinishReason, ImageData, ImageRequest, Role, SpeechRequest, TextChunk, TextRequest,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::generate::{error_json, model_id};
use crate::ApiState;
use crate::base_url::RequestBase;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::sse;

/// A message's content: a string, or parts of which the text ones are kept.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
pub(super) struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Message {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
pub(super) struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
pub(super) struct ChatCompletion {
    model: String,
    messages: Vec<Message>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    stop: Option<Stop>,
}

fn to_messages(messages: Vec<Message>) -> Result<Vec<ChatMessage>, Error> {
    messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => {
                    return Err(Error::invalid(
                        "messages",
                        format!("messages[{i}].role '{other}' is not supported"),
                    ));
                }
            };
            let content = match m.content {
                None => String::new(),
                Some(Content::Text(t)) => t,
                Some(Content::Parts(parts)) => {
                    if let Some(p) = parts.iter().find(|p| p.kind != "text") {
                        return Err(Error::invalid(
                            "messages",
                            format!(
                                "messages[{i}] has a '{}' part; only text parts are supported",
                                p.kind
                            ),
                        ));
                    }
                    parts
                        .into_iter()
                        .filter_map(|p| p.text)
                        .collect::<Vec<_>>()
                        .join("")
                }
            };
            Ok(ChatMessage { role, content })
        })
        .collect()
}

fn finish(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// `POST /v1/chat/completions`.
pub(super) async fn chat_completions(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiJson(body): ApiJson<ChatCompletion>,
) -> ApiResult<Response> {
    if body.n.is_some_and(|n| n != 1) {
        return Err(Error::invalid("n", "only n=1 is supported").into());
    }
    let request = TextRequest {
        messages: to_messages(body.messages)?,
        max_tokens: body.max_completion_tokens.or(body.max_tokens),
        temperature: body.temperature,
        top_p: body.top_p,
        stop: match body.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
        },
        ..TextRequest::default()
    };
    let id = format!(
        "chatcmpl-{}",
        state.gateway.new_id("c").trim_start_matches("c_")
    );
    let created = state.gateway.now().timestamp();
    if body.stream != Some(true) {
        let generated = state
            .gateway
            .generate_text(&principal, &body.model, request)
            .await?;
        let out = generated.output;
        return Ok(Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": generated.model.id,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": out.text, "refusal": null},
                "logprobs": null,
                "finish_reason": finish(out.finish_reason),
            }],
            "usage": {
                "prompt_tokens": out.usage.prompt_tokens,
                "completion_tokens": out.usage.completion_tokens,
                "total_tokens": out.usage.total(),
            },
        }))
        .into_response());
    }
    let include_usage = body.stream_options.unwrap_or_default().include_usage;
    let generated = state
        .gateway
        .stream_text(&principal, &body.model, request)
        .await?;
    let model = generated.model.id;
    let chunk = move |delta: Value, finish_reason: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        })
    };
    let first = sse::frame(
        None,
        &chunk(json!({"role": "assistant", "content": ""}), Value::Null).to_string(),
    );
    let frames = generated.output.flat_map(move |item| {
        let frames: Vec<bytes::Bytes> = match item {
            Ok(TextChunk::Delta(text)) => vec![sse::frame(None, &chunk(json!({"content": text}), Value::Null).to_string())],
            Ok(TextChunk::Finish { reason, usage }) => {
                let mut out = vec![sse::frame(None, &chunk(json!({}), json!(finish(reason))).to_string())];
                if include_usage {
                    let mut last = chunk(json!({}), Value::Null);
                    last["choices"] = json!([]);
                    last["usage"] = usage.map_or(Value::Null, |u| {
                        json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total()})
                    });
                    out.push(sse::frame(None, &last.to_string()));
                }
                out.push(sse::frame(None, "[DONE]"));
                out
            }
            // OpenAI's SDKs raise a chunk carrying `error` as an exception.
            Err(e) => vec![sse::frame(None, &error_json(&e).to_string())],
        };
        futures::stream::iter(frames)
    });
    Ok(sse::response(
        futures::stream::once(async move { first }).chain(frames),
    ))
}

#[derive(Deserialize)]
pub(super) struct ImageGenerations {
    prompt: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    response_format: Option<String>,
    #[serde(default)]
    style: Option<String>,
}

/// `POST /v1/images/generations`. With `response_format: "url"` and an image held as bytes,
/// the URL is a `data:` URL until the artifacts issue serves files from molts itself.
pub(super) async fn image_generations(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiJson(body): ApiJson<ImageGenerations>,
) -> ApiResult<Json<Value>> {
    let want_b64 = match body.response_format.as_deref() {
        None | Some("b64_json") => true,
        Some("url") => false,
        Some(_) => {
            return Err(Error::invalid(
                "response_format",
                "response_format must be url or b64_json",
            )
            .into());
        }
    };
    let model = model_id(&state, &principal, body.model, Modality::Image).await?;
    let request = ImageRequest {
        prompt: body.prompt,
        n: body.n.unwrap_or(1),
        size: body.size,
        style: body.style,
        ..ImageRequest::default()
    };
    let generated = state
        .gateway
        .generate_images(&principal, &model, request)
        .await?;
    let mut kept = generated.artifacts.into_iter();
    let data: Vec<Value> = generated
        .output
        .into_iter()
        .map(|image| {
            let revised = image.revised_prompt;
            let artifact = kept.next().flatten();
            let mut entry = match image.data {
                ImageData::Bytes { bytes, content_type } => {
                    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    if want_b64 {
                        json!({"b64_json": b64, "revised_prompt": revised})
                    } else {
                        json!({"url": format!("data:{content_type};base64,{b64}"), "revised_prompt": revised})
                    }
                }
                ImageData::Url(url) => json!({"url": url, "revised_prompt": revised}),
            };
            // molts' own copy; OpenAI's clients ignore fields they do not know.
            if let Some(a) = artifact {
                entry["artifact_id"] = json!(a.id);
                entry["artifact_url"] = json!(base.absolute(a.url));
            }
            entry
        })
        .collect();
    Ok(Json(
        json!({"created": state.gateway.now().timestamp(), "data": data}),
    ))
}

#[derive(Deserialize)]
pub(super) struct Speech {
    #[serde(default)]
    model: Option<String>,
    input: String,
    #[serde(default)]
    voice: Option<String>,
    #[serde(default)]
    response_format: Option<String>,
    #[serde(default)]
    speed: Option<f32>,
}

/// `POST /v1/audio/speech`: raw audio bytes, with the model and measured seconds in headers.
pub(super) async fn speech(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiJson(body): ApiJson<Speech>,
) -> ApiResult<Response> {
    let model = model_id(&state, &principal, body.model, Modality::Speech).await?;
    let request = SpeechRequest {
        text: body.input,
        voice: body.voice,
        format: body.response_format,
        speed: body.speed,
    };
    let generated = state.gateway.speech(&principal, &model, request).await?;
    let out = generated.output;
    let artifact = generated.artifacts.into_iter().flatten().next();
    let mut response = Body::from(out.audio).into_response();
    let headers = response.headers_mut();
    if let Some(a) = artifact
        && let Ok(v) = HeaderValue::from_str(&a.id)
    {
        headers.insert("x-molts-artifact-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&out.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&generated.model.id) {
        headers.insert("x-molts-model", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{:.3}", out.duration_seconds)) {
        headers.insert("x-molts-audio-seconds", v);
    }
    Ok(response)
}
