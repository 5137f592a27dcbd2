//! The provider port: one adapter per [`Provider`], reached through a [`ProviderRegistry`].
//! HTTP providers implement it as pure mapping over the `HttpClient` port; the offline demo
//! providers implement it without any network.

use crate::ErrorCode;
use crate::Retry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use crate::domain::{ModelConfig, Provider};
use crate::error::{Error, Result};

use super::types::{
    GeneratedImage, ImageRequest, JobProgress, PersonaRequest, RenderRequest, SpeechRequest,
    SpeechResponse, StockRequest, StockResponse, SubmittedJob, TextChunk, TextRequest,
    TextResponse, TextStream, VideoRequest, Voice,
};

/// A provider's key and endpoint, from configuration (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, ...).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The secret key, if one is configured.
    pub api_key: Option<String>,
    /// Override of the provider's base URL (fakes, proxies, local model servers).
    pub base_url: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Credentials")
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// What an adapter needs for one call.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The model config being served.
    pub model: &'a ModelConfig,
    /// Key and endpoint.
    pub credentials: &'a Credentials,
    /// Give up on the provider after this long.
    pub timeout: Duration,
}

impl Call<'_> {
    /// The configured key, or `Unavailable` naming the variable to set.
    pub fn api_key(&self, variable: &str) -> Result<&str> {
        self.credentials.api_key.as_deref().ok_or_else(|| {
            Error::unavailable(format!(
                "provider '{}' has no API key configured (set {variable})",
                self.model.provider.as_str()
            ))
            .with_code(ErrorCode::ProviderNotConfigured)
        })
    }

    /// The base URL: the configured override or the provider's default, without a trailing `/`.
    pub fn base_url<'b>(&'b self, default: &'b str) -> &'b str {
        self.credentials
            .base_url
            .as_deref()
            .unwrap_or(default)
            .trim_end_matches('/')
    }
}

fn unsupported(call: &Call<'_>, what: &str) -> Error {
    Error::invalid(
        "model",
        format!(
            "provider '{}' does not offer {what}",
            call.model.provider.as_str()
        ),
    )
    .with_code(ErrorCode::UnsupportedByProvider)
}

/// One provider's adapter. Every method has a default that refuses with `Invalid`, so an
/// adapter implements only what its provider offers.
#[async_trait]
pub trait ProviderAdapter: Send + Sync {
    /// Generates text.
    async fn text(&self, call: Call<'_>, request: &TextRequest) -> Result<TextResponse> {
        let _ = request;
        Err(unsupported(&call, "text generation"))
    }

    /// Streams text. The default runs [`ProviderAdapter::text`] and yields it as one chunk.
    async fn text_stream(&self, call: Call<'_>, request: &TextRequest) -> Result<TextStream> {
        let response = self.text(call, request).await?;
        let chunks = vec![
            Ok(TextChunk::Delta(response.text)),
            Ok(TextChunk::Finish {
                reason: response.finish_reason,
                usage: Some(response.usage),
            }),
        ];
        Ok(futures::stream::iter(chunks).boxed())
    }

    /// Generates images.
    async fn images(&self, call: Call<'_>, request: &ImageRequest) -> Result<Vec<GeneratedImage>> {
        let _ = request;
        Err(unsupported(&call, "image generation"))
    }

    /// Synthesises speech.
    async fn speech(&self, call: Call<'_>, request: &SpeechRequest) -> Result<SpeechResponse> {
        let _ = request;
        Err(unsupported(&call, "speech"))
    }

    /// Lists voices.
    async fn voices(&self, call: Call<'_>) -> Result<Vec<Voice>> {
        Err(unsupported(&call, "voices"))
    }

    /// Searches stock media.
    async fn stock(&self, call: Call<'_>, request: &StockRequest) -> Result<StockResponse> {
        let _ = request;
        Err(unsupported(&call, "stock search"))
    }

    /// Starts a video job at the provider.
    async fn submit_video(&self, call: Call<'_>, request: &VideoRequest) -> Result<SubmittedJob> {
        let _ = request;
        Err(unsupported(&call, "video generation"))
    }

    /// Starts a render job at the provider.
    async fn submit_render(&self, call: Call<'_>, request: &RenderRequest) -> Result<SubmittedJob> {
        let _ = request;
        Err(unsupported(&call, "rendering"))
    }

    /// Asks the provider where one of its jobs (video or render) stands.
    async fn job_progress(&self, call: Call<'_>, provider_job_id: &str) -> Result<JobProgress> {
        let _ = provider_job_id;
        Err(unsupported(&call, "jobs"))
    }

    /// Starts creating an avatar persona (HeyGen talking photo, Tavus replica). The persona's
    /// id, once ready, is the returned `provider_job_id`, usable as a video's `avatar_id`.
    async fn submit_persona(
        &self,
        call: Call<'_>,
        request: &PersonaRequest,
    ) -> Result<SubmittedJob> {
        let _ = request;
        Err(unsupported(&call, "avatar personas"))
    }

    /// Where a persona being created stands (`Ready`'s `url` is empty: a persona is an id).
    async fn persona_progress(&self, call: Call<'_>, persona_id: &str) -> Result<JobProgress> {
        let _ = persona_id;
        Err(unsupported(&call, "avatar personas"))
    }

    /// Asks the provider to stop one of its jobs (video, render or persona) and answers whether
    /// it *confirmed* the work stopped unbilled: only then does molts refund the job's quota.
    /// The default, [`Cancel::Unsupported`], is every provider whose API has no such call
    /// (HeyGen, Tavus and Shotstack document none; Veo's operations may be cancelled only on a
    /// best effort, confirmed later if ever), so their canceled jobs are charged.
    async fn cancel_job(&self, call: Call<'_>, provider_job_id: &str) -> Result<Cancel> {
        let _ = (call, provider_job_id);
        Ok(Cancel::Unsupported)
    }

    /// Fetches a finished job's output from the `url` its [`JobProgress::Ready`] gave, for the
    /// artifact store. [`Fetch::Get`] of the URL, the default, means a plain unauthenticated GET
    /// will do (HeyGen, Tavus and Shotstack hand out pre-signed URLs); providers whose URLs need
    /// the key (Veo) or that have no network at all (demo) override it. An adapter sends only
    /// to its configured base URL itself: any other URL the provider gave (a redirect to
    /// storage included) is answered as a `Fetch::Get`, so the gateway judges where it points.
    async fn download(&self, call: Call<'_>, url: &str) -> Result<Fetch> {
        let _ = call;
        Ok(Fetch::Get(url.to_owned()))
    }
}

/// What a provider answered to [`ProviderAdapter::cancel_job`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// The job stopped and the provider will not bill it.
    Confirmed,
    /// The provider cannot cancel a job: it goes on (and is billed) whatever molts does.
    Unsupported,
}

/// How a finished job's output is fetched.
#[derive(Debug)]
pub enum Fetch {
    /// A plain unauthenticated GET of this URL, which the gateway makes through the client its
    /// outbound address policy picks for the URL (see `gateway/outbound.rs`): the URL came from
    /// the provider, not from the operator's configuration.
    Get(String),
    /// The adapter fetched the output itself.
    Fetched(Download),
}

/// A job's output being fetched.
pub struct Download {
    /// The MIME type, when the provider says.
    pub content_type: Option<String>,
    /// The bytes.
    pub body: crate::ports::ByteStream,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// Whether a failed attempt may be retried or handed to a fallback: rate limits, outages,
/// timeouts and connection errors; never the caller's own mistakes.
pub fn is_retryable(error: &Error) -> bool {
    matches!(error.retry(), Retry::Backoff | Retry::Fallback)
}

/// Waiting, for retry backoff. Core has no timer of its own: the runtime lends one
/// (`tokio::time::sleep` natively, a JS timer on Workers).
#[async_trait]
pub trait Sleeper: Send + Sync {
    /// Resolves after `duration`.
    async fn sleep(&self, duration: Duration);
}

/// How failed attempts are retried before moving to a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per model config, the first included.
    pub attempts_per_model: u32,
    /// First backoff; doubled each retry, with up to 50% random jitter added.
    pub base_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
    /// A provider's `Retry-After` longer than this skips to the next fallback instead of waiting.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts_per_model: 2,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// Per-provider timeouts and credentials, the adapters themselves, and the retry policy.
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    adapters: HashMap<Provider, Arc<dyn ProviderAdapter>>,
    credentials: HashMap<Provider, Credentials>,
    timeouts: HashMap<Provider, Duration>,
    sleeper: Option<Arc<dyn Sleeper>>,
    retry: RetryPolicy,
}

/// Timeout for providers without one configured.
pub const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(60);

impl ProviderRegistry {
    /// An empty registry: every call fails with "not configured".
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the adapter serving `provider`.
    #[must_use]
    pub fn with_adapter(mut self, provider: Provider, adapter: Arc<dyn ProviderAdapter>) -> Self {
        self.adapters.insert(provider, adapter);
        self
    }

    /// Sets a provider's key and base URL.
    #[must_use]
    pub fn with_credentials(mut self, provider: Provider, credentials: Credentials) -> Self {
        self.credentials.insert(provider, credentials);
        self
    }

    /// Sets a provider's timeout.
    #[must_use]
    pub fn with_timeout(mut self, provider: Provider, timeout: Duration) -> Self {
        self.timeouts.insert(provider, timeout);
        self
    }

    /// Lends a timer for retry backoff; without one, failed attempts move straight on.
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = Some(sleeper);
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The retry policy.
    pub fn retry(&self) -> RetryPolicy {
        self.retry
    }

    /// The timer, if one was lent.
    pub fn sleeper(&self) -> Option<&Arc<dyn Sleeper>> {
        self.sleeper.as_ref()
    }

    /// The adapter for `provider`, or `Unavailable`.
    pub fn adapter(&self, provider: Provider) -> Result<&Arc<dyn ProviderAdapter>> {
        self.adapters.get(&provider).ok_or_else(|| {
            Error::unavailable(format!(
                "provider '{}' is not enabled on this server",
                provider.as_str()
            ))
            .with_code(ErrorCode::ProviderNotConfigured)
        })
    }

    /// The credentials for `provider` (empty when none are configured).
    pub fn credentials(&self, provider: Provider) -> &Credentials {
        static NONE: std::sync::OnceLock<Credentials> = std::sync::OnceLock::new();
        self.credentials
            .get(&provider)
            .unwrap_or_else(|| NONE.get_or_init(Credentials::default))
    }

    /// The timeout for `provider`.
    pub fn timeout(&self, provider: Provider) -> Duration {
        self.timeouts
            .get(&provider)
            .copied()
            .unwrap_or(DEFAULT_PROVIDER_TIMEOUT)
    }

    /// Whether an adapter is registered for `provider`.
    pub fn has(&self, provider: Provider) -> bool {
        self.adapters.contains_key(&provider)
    }
}
