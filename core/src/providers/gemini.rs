//! Google Gemini: `generateContent` for text and for images (the "nano-banana" image model
//! answers with inline image parts), and `streamGenerateContent?alt=sse` for streaming, whose
//! last chunk carries the finish reason and the token counts. Veo video configs are served
//! through the same adapter (see `veo`).

use crate::ErrorCode;
use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderName, Method};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, ErrorKind, Result};
use crate::ports::HttpClient;

use super::adapter::{Call, Fetch, ProviderAdapter};
use super::sse::{CallInfo, SseEvent, StreamMapper, cut_short, text_stream};
use super::types::{
    FinishReason, GeneratedImage, ImageData, ImageRequest, JobProgress, Role, SubmittedJob,
    TextChunk, TextRequest, TextResponse, TextStream, TokenUsage, VideoRequest,
};
use super::veo;
use super::wire::{self, MAX_JSON_BYTES, MAX_MEDIA_BYTES};

/// Gemini's API root, without the version (`/v1beta` is appended).
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// The adapter for [`Provider::Gemini`](crate::domain::Provider::Gemini).
#[derive(Clone)]
pub struct GeminiAdapter {
    http: Arc<dyn HttpClient>,
}

impl GeminiAdapter {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<dyn HttpClient>) -> Self {
        Self { http }
    }

    fn request(
        &self,
        call: &Call<'_>,
        action: &str,
        body: &Value,
    ) -> Result<http::Request<bytes::Bytes>> {
        let url = format!(
            "{}/v1beta/models/{}:{action}",
            call.base_url(GEMINI_BASE_URL),
            call.model.provider_model
        );
        let key = wire::secret_header(call.api_key("GEMINI_API_KEY")?)?;
        wire::request(
            Method::POST,
            &url,
            vec![(HeaderName::from_static("x-goog-api-key"), key)],
            Some(body),
        )
    }
}

fn text_body(request: &TextRequest) -> Value {
    let system: Vec<Value> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| json!({"text": m.content}))
        .collect();
    let contents: Vec<Value> = request
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let role = if m.role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            json!({"role": role, "parts": [{"text": m.content}]})
        })
        .collect();
    let mut config = json!({});
    if let Some(t) = request.temperature {
        config["temperature"] = json!(t);
    }
    if let Some(p) = request.top_p {
        config["topP"] = json!(p);
    }
    if let Some(max) = request.max_tokens {
        config["maxOutputTokens"] = json!(max);
    }
    if !request.stop.is_empty() {
        config["stopSequences"] = json!(request.stop);
    }
    let mut body = json!({"contents": contents, "generationConfig": config});
    if !system.is_empty() {
        body["systemInstruction"] = json!({"parts": system});
    }
    body
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    prompt_feedback: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
    /// Thinking summaries are not the answer.
    #[serde(default)]
    thought: Option<bool>,
    #[serde(default, alias = "inline_data", rename = "inlineData")]
    inline_data: Option<InlineData>,
}

#[derive(Deserialize)]
struct InlineData {
    #[serde(alias = "mime_type", rename = "mimeType")]
    mime_type: String,
    data: String,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    /// Thinking is billed as output.
    #[serde(default)]
    thoughts_token_count: u64,
}

impl From<UsageMetadata> for TokenUsage {
    fn from(u: UsageMetadata) -> Self {
        TokenUsage {
            prompt_tokens: u.prompt_token_count,
            completion_tokens: u.candidates_token_count + u.thoughts_token_count,
        }
    }
}

impl Response {
    fn text(&self) -> String {
        self.candidates
            .iter()
            .take(1)
            .filter_map(|c| c.content.as_ref())
            .flat_map(|c| c.parts.iter())
            .filter(|p| p.thought != Some(true))
            .filter_map(|p| p.text.as_deref())
            .collect()
    }

    fn finish(&self) -> Option<FinishReason> {
        let reason = self.candidates.first()?.finish_reason.as_deref()?;
        Some(match reason {
            "MAX_TOKENS" => FinishReason::Length,
            "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII"
            | "IMAGE_SAFETY" => FinishReason::ContentFilter,
            _ => FinishReason::Stop,
        })
    }

    /// A prompt Gemini refused outright comes back with no candidates and a block reason.
    fn blocked(&self, call: &Call<'_>) -> Option<Error> {
        let reason = self.prompt_feedback.as_ref()?["blockReason"].as_str()?;
        self.candidates.is_empty().then(|| {
            Error::new(
                ErrorKind::Invalid,
                format!(
                    "provider '{}' rejected the request: prompt blocked ({reason})",
                    call.model.provider.as_str()
                ),
            )
            .with_code(ErrorCode::ProviderRejected)
        })
    }
}

struct ContentStream {
    call: CallInfo,
    reason: Option<FinishReason>,
    usage: Option<TokenUsage>,
}

impl StreamMapper for ContentStream {
    fn on_event(&mut self, event: SseEvent) -> Result<(Vec<TextChunk>, bool)> {
        let call = self.call.call();
        let chunk: Response = wire::decode(&call, event.data.as_bytes())?;
        if let Some(error) = chunk.blocked(&call) {
            return Err(error);
        }
        if let Some(usage) = chunk.usage_metadata {
            self.usage = Some(usage.into());
        }
        if let Some(reason) = chunk.finish() {
            self.reason = Some(reason);
        }
        let text = chunk.text();
        let out = if text.is_empty() {
            Vec::new()
        } else {
            vec![TextChunk::Delta(text)]
        };
        Ok((out, false))
    }

    fn on_end(&mut self) -> Result<Vec<TextChunk>> {
        // Gemini closes the stream after the chunk carrying the finish reason; without one, the
        // stream was cut.
        match self.reason {
            Some(reason) => Ok(vec![TextChunk::Finish {
                reason,
                usage: self.usage,
            }]),
            None => Err(cut_short(&self.call.call())),
        }
    }
}

#[async_trait]
impl ProviderAdapter for GeminiAdapter {
    async fn text(&self, call: Call<'_>, request: &TextRequest) -> Result<TextResponse> {
        let req = self.request(&call, "generateContent", &text_body(request))?;
        let response: Response =
            wire::send_json(self.http.as_ref(), &call, req, MAX_JSON_BYTES).await?;
        if let Some(error) = response.blocked(&call) {
            return Err(error);
        }
        if response.candidates.is_empty() {
            return Err(wire::bad_response(&call, "no candidates"));
        }
        let text = response.text();
        let usage = match response.usage_metadata {
            Some(u) => u.into(),
            None => wire::estimated_usage(&request.messages, &text),
        };
        Ok(TextResponse {
            finish_reason: response.finish().unwrap_or(FinishReason::Stop),
            text,
            usage,
        })
    }

    async fn text_stream(&self, call: Call<'_>, request: &TextRequest) -> Result<TextStream> {
        let mut req = self.request(&call, "streamGenerateContent", &text_body(request))?;
        let uri = format!("{}?alt=sse", req.uri());
        *req.uri_mut() = uri
            .parse()
            .map_err(|_| wire::bad_response(&call, "stream URL"))?;
        let response = wire::send(self.http.as_ref(), &call, req).await?;
        let mapper = ContentStream {
            call: CallInfo::of(&call),
            reason: None,
            usage: None,
        };
        Ok(text_stream(response.into_body(), mapper))
    }

    async fn images(&self, call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let mut prompt = request.prompt.clone();
        if let Some(negative) = &request.negative_prompt {
            prompt.push_str(&format!("\n\nAvoid: {negative}"));
        }
        let mut config = json!({"responseModalities": ["TEXT", "IMAGE"]});
        if let Some(aspect) = &request.aspect_ratio {
            config["imageConfig"] = json!({"aspectRatio": aspect});
        }
        let body = json!({
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": config,
        });
        // One image per call is what the image models make; call until `n` are in hand.
        let mut images = Vec::new();
        for _ in 0..request.n {
            let req = self.request(&call, "generateContent", &body)?;
            let response: Response =
                wire::send_json(self.http.as_ref(), &call, req, MAX_MEDIA_BYTES).await?;
            if let Some(error) = response.blocked(&call) {
                return Err(error);
            }
            let caption = response.text();
            let parts = response
                .candidates
                .into_iter()
                .filter_map(|c| c.content)
                .flat_map(|c| c.parts)
                .filter_map(|p| p.inline_data);
            for inline in parts {
                images.push(GeneratedImage {
                    data: ImageData::Bytes {
                        bytes: wire::decode_base64(&call, &inline.data)?,
                        content_type: inline.mime_type,
                    },
                    revised_prompt: (!caption.is_empty()).then(|| caption.clone()),
                });
            }
            if images.len() >= request.n as usize {
                break;
            }
        }
        images.truncate(request.n as usize);
        if images.is_empty() {
            return Err(Error::unavailable("provider 'gemini' returned no image")
                .with_code(ErrorCode::ProviderNoOutput));
        }
        Ok(images)
    }

    async fn submit_video(&self, call: Call<'_>, request: &VideoRequest) -> Result<SubmittedJob> {
        veo::submit(self.http.as_ref(), &call, request).await
    }

    async fn job_progress(&self, call: Call<'_>, provider_job_id: &str) -> Result<JobProgress> {
        veo::progress(self.http.as_ref(), &call, provider_job_id).await
    }

    async fn download(&self, call: Call<'_>, url: &str) -> Result<Fetch> {
        veo::download(self.http.as_ref(), &call, url).await
    }
}
