//! OpenAI (and any server speaking its API): chat completions with SSE streaming and usage,
//! image generation as inline bytes, and speech whose length is measured from the audio.

use crate::ErrorCode;
use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, ProviderAdapter};
use super::audio::{estimate_speech_seconds, measure_duration};
use super::sse::{CallInfo, SseEvent, StreamMapper, cut_short, text_stream};
use super::types::{
    FinishReason, GeneratedImage, ImageData, ImageRequest, SpeechRequest, SpeechResponse,
    TextChunk, TextRequest, TextResponse, TextStream, TokenUsage, Voice,
};
use super::wire::{self, MAX_JSON_BYTES, MAX_MEDIA_BYTES};

/// OpenAI's API root.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// The voices OpenAI's speech models offer (there is no endpoint listing them).
const VOICES: [&str; 11] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
];

/// The adapter for [`Provider::Openai`](crate::domain::Provider::Openai) and, built with
/// [`OpenAiAdapter::compatible`], for any OpenAI-compatible server at a configured base URL.
#[derive(Clone)]
pub struct OpenAiAdapter {
    http: Arc<dyn HttpClient>,
    compatible: bool,
}

impl OpenAiAdapter {
    /// OpenAI itself: `api.openai.com` unless a base URL is configured, and a key is required.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self {
            http,
            compatible: false,
        }
    }

    /// An OpenAI-compatible server: the base URL (with its `/v1`) is required, a key optional
    /// (local model servers often take none).
    pub fn compatible(http: Arc<dyn HttpClient>) -> Self {
        Self {
            http,
            compatible: true,
        }
    }

    fn url(&self, call: &Call<'_>, path: &str) -> Result<String> {
        let base = if self.compatible {
            call.credentials
                .base_url
                .as_deref()
                .map(|b| b.trim_end_matches('/'))
                .ok_or_else(|| {
                    Error::unavailable(
                        "provider 'openai_compatible' has no base URL configured \
                         (set OPENAI_COMPATIBLE_BASE_URL)",
                    )
                    .with_code(ErrorCode::ProviderNotConfigured)
                })?
        } else {
            call.base_url(OPENAI_BASE_URL)
        };
        Ok(format!("{base}{path}"))
    }

    fn headers(&self, call: &Call<'_>) -> Result<Vec<(HeaderName, HeaderValue)>> {
        let key = if self.compatible {
            call.credentials.api_key.as_deref()
        } else {
            Some(call.api_key("OPENAI_API_KEY")?)
        };
        Ok(match key {
            Some(key) => vec![(
                http::header::AUTHORIZATION,
                wire::secret_header(&format!("Bearer {key}"))?,
            )],
            None => Vec::new(),
        })
    }

    fn chat_body(&self, call: &Call<'_>, request: &TextRequest, stream: bool) -> Value {
        let mut body = json!({
            "model": call.model.provider_model,
            "messages": request.messages,
        });
        if let Some(max) = request.max_tokens {
            // OpenAI's newer models refuse `max_tokens`; compatible servers know only it.
            let field = if self.compatible {
                "max_tokens"
            } else {
                "max_completion_tokens"
            };
            body[field] = json!(max);
        }
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(p) = request.top_p {
            body["top_p"] = json!(p);
        }
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        if stream {
            body["stream"] = json!(true);
            // Without it the stream carries no token counts and the hold is settled on estimates.
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<Usage> for TokenUsage {
    fn from(u: Usage) -> Self {
        TokenUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
        }
    }
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    delta: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        _ => FinishReason::Stop,
    }
}

/// OpenAI's chunks: `data: {json}` lines, `data: [DONE]` last, usage in a chunk of its own.
struct ChatStream {
    call: CallInfo,
    reason: Option<FinishReason>,
    usage: Option<TokenUsage>,
}

impl StreamMapper for ChatStream {
    fn on_event(&mut self, event: SseEvent) -> Result<(Vec<TextChunk>, bool)> {
        if event.data.trim() == "[DONE]" {
            let reason = self.reason.unwrap_or(FinishReason::Stop);
            let usage = self.usage;
            return Ok((vec![TextChunk::Finish { reason, usage }], true));
        }
        let call = self.call.call();
        let value: Value = wire::decode(&call, event.data.as_bytes())?;
        if value.get("error").is_some() {
            let message = wire::provider_message(event.data.as_bytes())
                .map(|m| wire::redact(&m, call.credentials.api_key.as_deref()))
                .unwrap_or_else(|| "unknown error".to_owned());
            return Err(Error::unavailable(format!(
                "provider '{}' failed mid-stream: {message}",
                call.model.provider.as_str()
            ))
            .with_code(ErrorCode::ProviderUnavailable));
        }
        let chunk: Completion = serde_json::from_value(value).map_err(|e| {
            wire::bad_response(&call, "a stream chunk is not the expected JSON").with_source(e)
        })?;
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let mut out = Vec::new();
        for choice in chunk.choices {
            if let Some(text) = choice.delta.and_then(|d| d.content)
                && !text.is_empty()
            {
                out.push(TextChunk::Delta(text));
            }
            if let Some(reason) = choice.finish_reason {
                self.reason = Some(finish_reason(&reason));
            }
        }
        Ok((out, false))
    }

    fn on_end(&mut self) -> Result<Vec<TextChunk>> {
        Err(cut_short(&self.call.call()))
    }
}

#[derive(Deserialize)]
struct ImagesResponse {
    data: Vec<ImageItem>,
}

#[derive(Deserialize)]
struct ImageItem {
    #[serde(default)]
    b64_json: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    revised_prompt: Option<String>,
}

fn dalle3_size(aspect: &str) -> Option<&'static str> {
    match aspect {
        "1:1" => Some("1024x1024"),
        "16:9" | "7:4" | "3:2" => Some("1792x1024"),
        "9:16" | "4:7" | "2:3" => Some("1024x1792"),
        _ => None,
    }
}

#[async_trait]
impl ProviderAdapter for OpenAiAdapter {
    async fn text(&self, call: Call<'_>, request: &TextRequest) -> Result<TextResponse> {
        let body = self.chat_body(&call, request, false);
        let req = wire::request(
            Method::POST,
            &self.url(&call, "/chat/completions")?,
            self.headers(&call)?,
            Some(&body),
        )?;
        let completion: Completion =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| wire::bad_response(&call, "no choices"))?;
        let message = choice.message.unwrap_or(Message {
            content: None,
            refusal: None,
        });
        let refused = message.refusal.is_some() && message.content.is_none();
        let text = message.content.or(message.refusal).unwrap_or_default();
        let usage = match completion.usage {
            Some(u) => u.into(),
            None => wire::estimated_usage(&request.messages, &text),
        };
        let finish_reason = if refused {
            FinishReason::ContentFilter
        } else {
            finish_reason(choice.finish_reason.as_deref().unwrap_or("stop"))
        };
        Ok(TextResponse {
            text,
            finish_reason,
            usage,
        })
    }

    async fn text_stream(&self, call: Call<'_>, request: &TextRequest) -> Result<TextStream> {
        let body = self.chat_body(&call, request, true);
        let req = wire::request(
            Method::POST,
            &self.url(&call, "/chat/completions")?,
            self.headers(&call)?,
            Some(&body),
        )?;
        let response = wire::send(self.http.as_ref(), &call, req).await?;
        let mapper = ChatStream {
            call: CallInfo::of(&call),
            reason: None,
            usage: None,
        };
        Ok(text_stream(response.into_body(), mapper))
    }

    async fn images(&self, call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let model = call.model.provider_model.as_str();
        let dalle3 = model == "dall-e-3";
        let gpt_image = model.starts_with("gpt-image");
        let mut body = json!({"model": model, "prompt": request.prompt});
        // gpt-image models always answer in base64 and refuse the field.
        if !gpt_image {
            body["response_format"] = json!("b64_json");
        }
        let size = request.size.clone().or_else(|| {
            dalle3
                .then(|| request.aspect_ratio.as_deref().and_then(dalle3_size))?
                .map(str::to_owned)
        });
        if let Some(size) = size {
            body["size"] = json!(size);
        }
        if let Some(style) = request
            .style
            .as_deref()
            .filter(|s| dalle3 && matches!(*s, "vivid" | "natural"))
        {
            body["style"] = json!(style);
        }
        // DALL-E 3 makes one image a request: ask as often as needed.
        let (per_call, calls) = if dalle3 {
            (1, request.n)
        } else {
            (request.n, 1)
        };
        body["n"] = json!(per_call);
        let mut images = Vec::new();
        for _ in 0..calls {
            let req = wire::request(
                Method::POST,
                &self.url(&call, "/images/generations")?,
                self.headers(&call)?,
                Some(&body),
            )?;
            let response: ImagesResponse =
                wire::send_json(self.http.as_ref(), &call, req, MAX_MEDIA_BYTES).await?;
            for item in response.data {
                let data = match (item.b64_json, item.url) {
                    (Some(b64), _) => {
                        let bytes = wire::decode_base64(&call, &b64)?;
                        let content_type = wire::image_content_type(&bytes).to_owned();
                        ImageData::Bytes {
                            bytes,
                            content_type,
                        }
                    }
                    (None, Some(url)) => ImageData::Url(url),
                    (None, None) => return Err(wire::bad_response(&call, "an image has no data")),
                };
                images.push(GeneratedImage {
                    data,
                    revised_prompt: item.revised_prompt,
                });
            }
        }
        Ok(images)
    }

    async fn speech(&self, call: Call<'_>, request: &SpeechRequest) -> Result<SpeechResponse> {
        let format = request.format.as_deref().unwrap_or("mp3");
        let mut body = json!({
            "model": call.model.provider_model,
            "input": request.text,
            "voice": request.voice.as_deref().unwrap_or("alloy"),
            "response_format": format,
        });
        if let Some(speed) = request.speed {
            body["speed"] = json!(speed);
        }
        let req = wire::request(
            Method::POST,
            &self.url(&call, "/audio/speech")?,
            self.headers(&call)?,
            Some(&body),
        )?;
        let response = wire::send_bytes(self.http.as_ref(), &call, req, MAX_MEDIA_BYTES).await?;
        let content_type = wire::audio_content_type(
            &call,
            response.headers(),
            super::audio::content_type(format),
        )?;
        let audio = response.into_body();
        let duration_seconds = measure_duration(&audio, format)
            .unwrap_or_else(|| estimate_speech_seconds(&request.text));
        Ok(SpeechResponse {
            audio,
            content_type,
            duration_seconds,
        })
    }

    async fn voices(&self, call: Call<'_>) -> Result<Vec<Voice>> {
        Ok(VOICES
            .iter()
            .map(|v| Voice {
                id: (*v).to_owned(),
                name: (*v).to_owned(),
                provider: call.model.provider.as_str().to_owned(),
                preview_url: None,
            })
            .collect())
    }
}
