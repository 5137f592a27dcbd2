//! Providers: the provider-neutral types, the adapter port and its registry, and the HTTP
//! providers' adapters as pure mapping over the `HttpClient` port (one file per provider, with
//! the shared wire handling in `wire`, `form` and `sse`).

mod adapter;
mod anthropic;
pub mod audio;
mod elevenlabs;
mod form;
mod gemini;
mod heygen;
mod ideogram;
mod openai;
mod pexels;
mod registry;
mod shotstack;
mod sse;
mod tavus;
pub mod template;
mod types;
mod veo;
mod wire;

pub use adapter::{
    Call, Cancel, Credentials, DEFAULT_PROVIDER_TIMEOUT, Download, Fetch, ProviderAdapter,
    ProviderRegistry, RetryPolicy, Sleeper, is_retryable,
};
pub use anthropic::{ANTHROPIC_BASE_URL, AnthropicAdapter};
pub use elevenlabs::{DEFAULT_ELEVENLABS_VOICE, ELEVENLABS_BASE_URL, ElevenLabsAdapter};
pub use gemini::{GEMINI_BASE_URL, GeminiAdapter};
pub use heygen::{
    DEFAULT_HEYGEN_AVATAR, DEFAULT_HEYGEN_VOICE, HEYGEN_BASE_URL, HEYGEN_UPLOAD_URL, HeygenAdapter,
    TALKING_PHOTO_PREFIX,
};
pub use ideogram::{IDEOGRAM_BASE_URL, IdeogramAdapter};
pub use openai::{OPENAI_BASE_URL, OpenAiAdapter};
pub use pexels::{PEXELS_BASE_URL, PexelsAdapter};
pub use registry::{credentials_from_env, env_names, http_adapters, http_registry};
pub use shotstack::{SHOTSTACK_BASE_URL, ShotstackAdapter};
pub use tavus::{TAVUS_BASE_URL, TavusAdapter};
pub use types::{
    ChatMessage, FinishReason, GeneratedImage, ImageData, ImageRequest, JobProgress,
    PersonaRequest, RenderRequest, Role, SpeechRequest, SpeechResponse, StockItem, StockKind,
    StockRequest, StockResponse, SubmittedJob, TextChunk, TextRequest, TextResponse, TextStream,
    TokenUsage, VideoRequest, Voice,
};
pub use veo::VEO_DURATION_SECONDS;
