//! Anthropic's Messages API: system messages lifted into `system`, a `max_tokens` always sent
//! (the API requires it), and streaming over named SSE events whose `error` event mid-stream is
//! an error rather than an end.

use crate::ErrorCode;
use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
use super::sse::{CallInfo, SseEvent, StreamMapper, cut_short, text_stream};
use super::types::{
    FinishReason, Role, TextChunk, TextRequest, TextResponse, TextStream, TokenUsage,
};
use super::wire::{self, MAX_JSON_BYTES};

/// Anthropic's API root (without `/v1`, as `ANTHROPIC_BASE_URL` is set by its SDKs).
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
const API_VERSION: &str = "2023-06-01";
/// `max_tokens` when the caller sets none: Anthropic requires one.
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The adapter for [`Provider::Anthropic`](crate::domain::Provider::Anthropic).
#[derive(Clone)]
pub struct AnthropicAdapter {
    http: Arc<dyn HttpClient>,
}

impl AnthropicAdapter {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }

    fn request(
        &self,
        call: &Call<'_>,
        request: &TextRequest,
        stream: bool,
    ) -> Result<http::Request<bytes::Bytes>> {
        let system: Vec<&str> = request
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let messages: Vec<Value> = request
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let mut body = json!({
            "model": call.model.provider_model,
            "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": messages,
        });
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(p) = request.top_p {
            body["top_p"] = json!(p);
        }
        if !request.stop.is_empty() {
            body["stop_sequences"] = json!(request.stop);
        }
        if stream {
            body["stream"] = json!(true);
        }
        let headers: Vec<(HeaderName, HeaderValue)> = vec![
            (
                HeaderName::from_static("x-api-key"),
                wire::secret_header(call.api_key("ANTHROPIC_API_KEY")?)?,
            ),
            (
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static(API_VERSION),
            ),
        ];
        let url = format!("{}/v1/messages", call.base_url(ANTHROPIC_BASE_URL));
        wire::request(Method::POST, &url, headers, Some(&body))
    }
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl Usage {
    /// Prompt tokens including cached ones, when the input count is present.
    fn prompt(&self) -> Option<u64> {
        self.input_tokens.map(|i| {
            i + self.cache_creation_input_tokens.unwrap_or(0)
                + self.cache_read_input_tokens.unwrap_or(0)
        })
    }
}

#[derive(Deserialize)]
struct Message {
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Usage,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("max_tokens") => FinishReason::Length,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// The error an `event: error` carries, classified like the matching HTTP status would be.
fn stream_error(call: &Call<'_>, data: &str) -> Error {
    let json: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let kind = json["error"]["type"].as_str().unwrap_or("api_error");
    let message = wire::provider_message(data.as_bytes())
        .map(|m| wire::redact(&m, call.credentials.api_key.as_deref()))
        .unwrap_or_else(|| kind.to_owned());
    let text = format!("provider 'anthropic' failed mid-stream: {message}");
    match kind {
        "rate_limit_error" => {
            Error::new(ErrorKind::RateLimited, text).with_code(ErrorCode::ProviderRateLimited)
        }
        "invalid_request_error" | "request_too_large" | "not_found_error" => {
            Error::new(ErrorKind::Invalid, text).with_code(ErrorCode::ProviderRejected)
        }
        _ => Error::unavailable(text).with_code(ErrorCode::ProviderUnavailable),
    }
}

struct MessageStream {
    call: CallInfo,
    prompt: Option<u64>,
    completion: Option<u64>,
    reason: Option<FinishReason>,
}

impl StreamMapper for MessageStream {
    fn on_event(&mut self, event: SseEvent) -> Result<(Vec<TextChunk>, bool)> {
        let call = self.call.call();
        let data: Value = wire::decode(&call, event.data.as_bytes())?;
        // The event name and the data's `type` agree; older proxies drop the name.
        let name = event
            .event
            .as_deref()
            .or_else(|| data["type"].as_str())
            .unwrap_or_default()
            .to_owned();
        match name.as_str() {
            "message_start" => {
                let usage: Usage =
                    serde_json::from_value(data["message"]["usage"].clone()).unwrap_or_default();
                self.prompt = usage.prompt().or(self.prompt);
                self.completion = usage.output_tokens.or(self.completion);
            }
            "content_block_delta" => {
                if let Some(text) = data["delta"]["text"].as_str()
                    && !text.is_empty()
                {
                    return Ok((vec![TextChunk::Delta(text.to_owned())], false));
                }
            }
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.reason = Some(finish_reason(Some(reason)));
                }
                let usage: Usage =
                    serde_json::from_value(data["usage"].clone()).unwrap_or_default();
                self.prompt = usage.prompt().or(self.prompt);
                self.completion = usage.output_tokens.or(self.completion);
            }
            "message_stop" => {
                let usage = match (self.prompt, self.completion) {
                    (Some(p), Some(c)) => Some(TokenUsage {
                        prompt_tokens: p,
                        completion_tokens: c,
                    }),
                    _ => None,
                };
                let reason = self.reason.unwrap_or(FinishReason::Stop);
                return Ok((vec![TextChunk::Finish { reason, usage }], true));
            }
            "error" => return Err(stream_error(&call, &event.data)),
            // ping, content_block_start/stop, and whatever Anthropic adds later.
            _ => {}
        }
        Ok((Vec::new(), false))
    }

    fn on_end(&mut self) -> Result<Vec<TextChunk>> {
        Err(cut_short(&self.call.call()))
    }
}

#[async_trait]
impl ProviderAdapter for AnthropicAdapter {
    async fn text(&self, call: Call<'_>, request: &TextRequest) -> Result<TextResponse> {
        let req = self.request(&call, request, false)?;
        let message: Message =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let text: String = message
            .content
            .iter()
            .filter(|b| b.kind == "text")
            .filter_map(|b| b.text.as_deref())
            .collect();
        let usage = match (message.usage.prompt(), message.usage.output_tokens) {
            (Some(p), Some(c)) => TokenUsage {
                prompt_tokens: p,
                completion_tokens: c,
            },
            _ => wire::estimated_usage(&request.messages, &text),
        };
        Ok(TextResponse {
            text,
            finish_reason: finish_reason(message.stop_reason.as_deref()),
            usage,
        })
    }

    async fn text_stream(&self, call: Call<'_>, request: &TextRequest) -> Result<TextStream> {
        let req = self.request(&call, request, true)?;
        let response = wire::send(self.http.as_ref(), &call, req).await?;
        let mapper = MessageStream {
            call: CallInfo::of(&call),
            prompt: None,
            completion: None,
            reason: None,
        };
        Ok(text_stream(response.into_body(), mapper))
    }
}
