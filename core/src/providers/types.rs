//! Provider-neutral requests and responses: what the gateway asks of any provider and what it
//! gets back, per modality. Adapters map these to and from each provider's wire format.

use bytes::Bytes;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Who said a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions.
    System,
    /// The caller.
    User,
    /// The model.
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
}

/// A text generation request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextRequest {
    /// The conversation so far (system messages included).
    pub messages: Vec<ChatMessage>,
    /// Cap on generated tokens. The gateway always sets it (the hold is sized by it).
    pub max_tokens: Option<u32>,
    /// True when `max_tokens` is molts' default rather than the caller's: an adapter with a
    /// default of its own (a template model's `defaults.max_tokens`) may send that instead,
    /// if it is no larger.
    pub max_tokens_is_default: bool,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Stop sequences.
    pub stop: Vec<String>,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    Stop,
    /// The token cap.
    Length,
    /// Filtered by the provider.
    ContentFilter,
}

/// Tokens a call used, as the provider measured them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Generated tokens.
    pub completion_tokens: u64,
}

impl TokenUsage {
    /// Prompt plus completion.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// A finished text generation.
#[derive(Debug, Clone, PartialEq)]
pub struct TextResponse {
    /// The generated text.
    pub text: String,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Tokens used.
    pub usage: TokenUsage,
}

/// One piece of a streamed text generation.
#[derive(Debug, Clone, PartialEq)]
pub enum TextChunk {
    /// More text.
    Delta(String),
    /// The end, with the usage if the provider reported it.
    Finish {
        /// Why it ended.
        reason: FinishReason,
        /// Tokens used, when known.
        usage: Option<TokenUsage>,
    },
}

/// A streamed text generation.
pub type TextStream = BoxStream<'static, Result<TextChunk>>;

/// An image generation request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRequest {
    /// What to draw.
    pub prompt: String,
    /// How many images.
    pub n: u32,
    /// `WIDTHxHEIGHT`, when asked for.
    pub size: Option<String>,
    /// `W:H`, when asked for.
    pub aspect_ratio: Option<String>,
    /// Provider style hint.
    pub style: Option<String>,
    /// What to avoid.
    pub negative_prompt: Option<String>,
}

/// One generated image: its bytes, or a (usually expiring) URL at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageData {
    /// The image itself.
    Bytes {
        /// Encoded image.
        bytes: Bytes,
        /// MIME type.
        content_type: String,
    },
    /// Where the provider put it.
    Url(String),
}

/// A generated image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    /// The image.
    pub data: ImageData,
    /// The prompt as the provider rewrote it.
    pub revised_prompt: Option<String>,
}

/// A speech request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpeechRequest {
    /// What to say.
    pub text: String,
    /// Provider voice id.
    pub voice: Option<String>,
    /// Output format (`mp3`, `wav`, ...); the provider's default when absent.
    pub format: Option<String>,
    /// Speaking rate.
    pub speed: Option<f32>,
}

/// Generated speech.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechResponse {
    /// Encoded audio.
    pub audio: Bytes,
    /// MIME type.
    pub content_type: String,
    /// Length, measured from the audio where the format allows, else estimated from the text.
    pub duration_seconds: f64,
}

/// A voice a provider offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Voice {
    /// Provider voice id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Which provider.
    pub provider: String,
    /// A sample, if offered.
    pub preview_url: Option<String>,
}

/// Photos or videos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockKind {
    /// Still photos.
    Photos,
    /// Video clips.
    Videos,
}

/// A stock media search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRequest {
    /// Search words.
    pub query: String,
    /// Photos or videos.
    pub kind: StockKind,
    /// 1-based page.
    pub page: u32,
    /// Results per page.
    pub per_page: u32,
    /// `landscape`, `portrait` or `square`.
    pub orientation: Option<String>,
}

/// One stock result, normalised across providers (the predecessor's shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StockItem {
    /// Provider's id.
    pub id: String,
    /// `photo` or `video`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Full-size media.
    pub url: String,
    /// A small preview.
    pub preview_url: Option<String>,
    /// Seconds, for videos.
    pub duration: Option<f64>,
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// Which provider.
    pub provider: String,
    /// Credit.
    pub photographer: Option<String>,
    /// Credit link.
    pub photographer_url: Option<String>,
}

/// A page of stock results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StockResponse {
    /// The results.
    pub media: Vec<StockItem>,
    /// Matches in all.
    pub total_results: u64,
    /// This page.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
}

/// An avatar or text-to-video request (HeyGen, Tavus, Veo, demo).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoRequest {
    /// What the avatar says (HeyGen, Tavus) or what to show (Veo).
    pub script: String,
    /// Optional extra context (the seed's `context`): a scene description, a tone.
    pub context: Option<String>,
    /// Provider avatar / replica id; the agent's persona when absent.
    pub avatar_id: Option<String>,
    /// Provider voice id.
    pub voice_id: Option<String>,
    /// `16:9`, `9:16`, `1:1`.
    pub aspect_ratio: Option<String>,
    /// Where the provider should call back (the job's secret URL), if the provider supports it.
    pub callback_url: Option<String>,
    /// molts' job id, for providers that echo a callback id.
    pub job_id: String,
}

/// A timeline render request (Shotstack's edit JSON, kept as given).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderRequest {
    /// `{"timeline": …, "output": …}`.
    pub edit: serde_json::Value,
    /// Where the provider should call back, if supported.
    pub callback_url: Option<String>,
    /// molts' job id.
    pub job_id: String,
}

/// A request to create an agent's avatar persona at a provider: a HeyGen talking photo from an
/// image, a Tavus replica trained from a video.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonaRequest {
    /// A display name for it.
    pub name: Option<String>,
    /// The photo (HeyGen), with its MIME type.
    pub image: Option<(Bytes, String)>,
    /// A training video the provider fetches itself (Tavus).
    pub video_url: Option<String>,
    /// The consent video Tavus asks for, when separate.
    pub consent_video_url: Option<String>,
    /// Where the provider should call back, if supported.
    pub callback_url: Option<String>,
    /// molts' job id.
    pub job_id: String,
}

/// A job the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedJob {
    /// The provider's own id for it (HeyGen `video_id`, Veo operation `name`, Shotstack `id`).
    pub provider_job_id: String,
}

/// Where a provider's job stands.
#[derive(Debug, Clone, PartialEq)]
pub enum JobProgress {
    /// Accepted, not started.
    Queued,
    /// Being made.
    Processing,
    /// Done: the output is at `url` (usually expiring), `duration` seconds long when known.
    Ready {
        /// Where to fetch the output.
        url: String,
        /// Seconds of video, when the provider says.
        duration: Option<f64>,
        /// The output's MIME type, when known.
        content_type: Option<String>,
    },
    /// The provider gave up; its message, secrets removed.
    Failed {
        /// Why.
        message: String,
    },
}
