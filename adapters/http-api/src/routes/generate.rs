//! The native generation API: text (JSON or SSE), images, voices and stock search. Speech is
//! served by the OpenAI-compatible `/v1/audio/speech` (one route, one shape).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use futures::StreamExt;
use molts_core::domain::{Modality, ModelConfig};
use molts_core::gateway::AgentPrincipal;
use molts_core::providers::{
    ChatMessage, ImageData, ImageRequest, Role, StockKind, StockRequest, StockResponse, TextChunk,
    TextRequest, Voice,
};
use molts_core::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ApiState;
use crate::base_url::RequestBase;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery};
use crate::sse;
use crate::views::List;

/// Resolves the requested model id, or picks the default for the modality.
pub(super) async fn model_id(
    state: &ApiState,
    principal: &AgentPrincipal,
    requested: Option<String>,
    modality: Modality,
) -> ApiResult<String> {
    match requested {
        Some(m) if !m.trim().is_empty() => Ok(m),
        _ => Ok(state
            .gateway
            .default_model_for(principal, modality)
            .await?
            .id),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TextGenerate {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    messages: Option<Vec<ChatMessage>>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    stop: Option<Vec<String>>,
    #[serde(default)]
    stream: bool,
}

impl TextGenerate {
    fn request(&mut self) -> Result<TextRequest, Error> {
        let mut messages = Vec::new();
        if let Some(system) = self.system.take() {
            messages.push(ChatMessage {
                role: Role::System,
                content: system,
            });
        }
        match (self.prompt.take(), self.messages.take()) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "prompt",
                    "send either prompt or messages, not both",
                ));
            }
            (Some(prompt), None) => messages.push(ChatMessage {
                role: Role::User,
                content: prompt,
            }),
            (None, Some(list)) => messages.extend(list),
            (None, None) => {
                return Err(Error::invalid("prompt", "prompt (or messages) is required"));
            }
        }
        Ok(TextRequest {
            messages,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            stop: self.stop.take().unwrap_or_default(),
            ..TextRequest::default()
        })
    }
}

pub(super) fn model_view(model: &ModelConfig) -> Value {
    json!({"id": model.id, "provider": model.provider.as_str()})
}

/// `POST /v1/text/generate`: `{model?, prompt | messages, system?, max_tokens?, stream?}`.
pub(super) async fn text(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiJson(mut body): ApiJson<TextGenerate>,
) -> ApiResult<Response> {
    let request = body.request()?;
    let model = model_id(&state, &principal, body.model.take(), Modality::Text).await?;
    if !body.stream {
        let generated = state
            .gateway
            .generate_text(&principal, &model, request)
            .await?;
        let out = generated.output;
        return Ok(Json(json!({
            "model": model_view(&generated.model),
            "text": out.text,
            "finish_reason": out.finish_reason,
            "usage": {
                "prompt_tokens": out.usage.prompt_tokens,
                "completion_tokens": out.usage.completion_tokens,
                "total_tokens": out.usage.total(),
            },
        }))
        .into_response());
    }
    let generated = state
        .gateway
        .stream_text(&principal, &model, request)
        .await?;
    let head = sse::frame(Some("model"), &model_view(&generated.model).to_string());
    let frames = generated.output.map(|chunk| match chunk {
        Ok(TextChunk::Delta(text)) => sse::frame(Some("delta"), &json!({"text": text}).to_string()),
        Ok(TextChunk::Finish { reason, usage }) => sse::frame(
            Some("done"),
            &json!({"finish_reason": reason, "usage": usage.map(|u| json!({
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "total_tokens": u.total(),
            }))})
            .to_string(),
        ),
        Err(e) => sse::frame(Some("error"), &error_json(&e).to_string()),
    });
    Ok(sse::response(
        futures::stream::once(async move { head }).chain(frames),
    ))
}

/// The error format as a JSON value, for errors that happen inside a stream.
pub(super) fn error_json(e: &Error) -> Value {
    let (_, kind) = crate::error::status_and_type(e.kind(), e.code());
    let message = if e.kind() == ErrorKind::Internal {
        "internal error"
    } else {
        e.message()
    };
    json!({"error": {"message": message, "type": kind, "code": e.code().map(|c| c.as_str()), "param": e.param()}})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ImagesGenerate {
    #[serde(default)]
    model: Option<String>,
    prompt: String,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    aspect_ratio: Option<String>,
    #[serde(default)]
    style: Option<String>,
    #[serde(default)]
    negative_prompt: Option<String>,
}

#[derive(Serialize)]
struct ImageView {
    #[serde(skip_serializing_if = "Option::is_none")]
    b64_json: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    revised_prompt: Option<String>,
    /// molts' own copy in the operator's object store, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_url: Option<String>,
}

/// `POST /v1/images/generate`. Images come back inline as base64 (or the provider's URL), and
/// each is also kept as an artifact in the operator's object store (`artifact_id`).
pub(super) async fn images(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    base: RequestBase,
    ApiJson(body): ApiJson<ImagesGenerate>,
) -> ApiResult<Json<Value>> {
    let model = model_id(&state, &principal, body.model, Modality::Image).await?;
    let request = ImageRequest {
        prompt: body.prompt,
        n: body.n.unwrap_or(1),
        size: body.size,
        aspect_ratio: body.aspect_ratio,
        style: body.style,
        negative_prompt: body.negative_prompt,
    };
    let generated = state
        .gateway
        .generate_images(&principal, &model, request)
        .await?;
    let mut kept = generated.artifacts.into_iter();
    let images: Vec<ImageView> = generated
        .output
        .into_iter()
        .map(|image| {
            let artifact = kept.next().flatten();
            let (artifact_id, artifact_url) = match artifact {
                Some(a) => (Some(a.id), Some(base.absolute(a.url))),
                None => (None, None),
            };
            match image.data {
                ImageData::Bytes {
                    bytes,
                    content_type,
                } => ImageView {
                    b64_json: Some(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                    url: None,
                    content_type: Some(content_type),
                    revised_prompt: image.revised_prompt,
                    artifact_id,
                    artifact_url,
                },
                ImageData::Url(url) => ImageView {
                    b64_json: None,
                    url: Some(url),
                    content_type: None,
                    revised_prompt: image.revised_prompt,
                    artifact_id,
                    artifact_url,
                },
            }
        })
        .collect();
    Ok(Json(
        json!({"model": model_view(&generated.model), "images": images}),
    ))
}

#[derive(Deserialize)]
pub(super) struct VoicesQuery {
    model: Option<String>,
}

/// `GET /v1/audio/voices?model=`: the voices of a speech model's provider.
pub(super) async fn voices(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiQuery(query): ApiQuery<VoicesQuery>,
) -> ApiResult<Json<List<Voice>>> {
    let model = model_id(&state, &principal, query.model, Modality::Speech).await?;
    let generated = state.gateway.voices(&principal, &model).await?;
    Ok(Json(List::of(generated.output)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StockSearch {
    #[serde(default)]
    model: Option<String>,
    query: String,
    #[serde(default, rename = "type")]
    kind: Option<StockKind>,
    #[serde(default)]
    page: Option<u32>,
    #[serde(default)]
    per_page: Option<u32>,
    #[serde(default)]
    orientation: Option<String>,
}

/// `POST /v1/stock/search`: photos or videos, normalised across providers.
pub(super) async fn stock(
    State(state): State<ApiState>,
    Extension(principal): Extension<AgentPrincipal>,
    ApiJson(body): ApiJson<StockSearch>,
) -> ApiResult<Json<Value>> {
    if let Some(o) = &body.orientation {
        if !matches!(o.as_str(), "landscape" | "portrait" | "square") {
            return Err(ApiError(Error::invalid(
                "orientation",
                "orientation must be landscape, portrait or square",
            )));
        }
    }
    let model = model_id(&state, &principal, body.model, Modality::Stock).await?;
    let request = StockRequest {
        query: body.query,
        kind: body.kind.unwrap_or(StockKind::Photos),
        page: body.page.unwrap_or(1),
        per_page: body.per_page.unwrap_or(15),
        orientation: body.orientation,
    };
    let generated = state
        .gateway
        .stock_search(&principal, &model, request)
        .await?;
    let StockResponse {
        media,
        total_results,
        page,
        per_page,
    } = generated.output;
    Ok(Json(json!({
        "model": model_view(&generated.model),
        "media": media,
        "total_results": total_results,
        "page": page,
        "per_page": per_page,
    })))
}
