//! Providers: the provider-neutral types, the adapter port and its registry, and (in later
//! files) the HTTP providers' adapters as pure mapping over the `HttpClient` port.

mod adapter;
mod types;

pub use adapter::{
    Call, Credentials, DEFAULT_PROVIDER_TIMEOUT, ProviderAdapter, ProviderRegistry, RetryPolicy,
    Sleeper, is_retryable,
};
pub use types::{
    ChatMessage, FinishReason, GeneratedImage, ImageData, ImageRequest, Role, SpeechRequest,
    SpeechResponse, StockItem, StockKind, StockRequest, StockResponse, TextChunk, TextRequest,
    TextResponse, TextStream, TokenUsage, Voice,
};
