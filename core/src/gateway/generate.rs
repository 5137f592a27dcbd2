//! Generation use cases: reserve an estimate, route to a provider (with fallbacks), then settle
//! with the measured amount — tokens from the provider's usage, images counted, seconds of audio
//! measured, searches counted — or refund when every provider failed.

use futures::StreamExt;

use crate::domain::{Modality, ModelConfig, Unit};
use crate::error::{Error, Result};
use crate::providers::{
    FinishReason, GeneratedImage, ImageData, ImageRequest, Role, SpeechRequest, SpeechResponse,
    StockRequest, StockResponse, TextChunk, TextRequest, TextResponse, TextStream, Voice,
};

use super::artifacts::ArtifactView;
use super::hold_size::{check_speed, completion_cap, speech_hold, text_hold};
use super::quota::Hold;
use super::request_notes::RequestNotes;
use super::routing::{Output, Work};
use super::{AgentPrincipal, Gateway};

/// Most images one request may ask for.
pub const MAX_IMAGES_PER_REQUEST: u32 = 10;
/// Longest speech input, in characters (OpenAI's limit).
pub const MAX_SPEECH_CHARS: usize = 4096;

/// A result and the model config that produced it (a fallback, perhaps).
#[derive(Debug)]
pub struct Generated<T> {
    /// The config that served the request.
    pub model: ModelConfig,
    /// The output.
    pub output: T,
    /// The files kept in the artifact store, one per generated file in output order (images,
    /// speech); `None` where storing failed (logged) or no blob store is configured.
    pub artifacts: Vec<Option<ArtifactView>>,
}

impl<T> Generated<T> {
    fn new(model: ModelConfig, output: T) -> Self {
        Self {
            model,
            output,
            artifacts: Vec::new(),
        }
    }
}

/// A rough token count: about four characters a token for English text. Only used to charge
/// a stream whose provider reported no usage (holds are sized by `hold_size`, which bounds).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn prompt_estimate(request: &TextRequest) -> u64 {
    request
        .messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + 4)
        .sum()
}

fn unexpected() -> Error {
    Error::internal("provider adapter answered with the wrong kind of output")
}

impl Gateway {
    async fn with_hold<T>(
        &self,
        principal: &AgentPrincipal,
        unit: Unit,
        estimate: u64,
        work: impl std::future::Future<Output = Result<T>>,
        measure: impl FnOnce(&T) -> u64,
    ) -> Result<T> {
        let hold = self.reserve(principal, unit, estimate).await?;
        principal.notes.held(unit, hold.amount);
        match work.await {
            Ok(output) => {
                let actual = measure(&output);
                principal.notes.charged(actual.min(hold.amount));
                self.settle_after(&principal.agent.id, hold, actual).await;
                Ok(output)
            }
            Err(e) => {
                principal.notes.charged(0);
                self.refund_logged(&hold).await;
                Err(e)
            }
        }
    }

    /// Settles a hold whose work is done: on the spawner if there is one (the caller's answer
    /// need not wait: the hold already covers it), else now.
    ///
    /// Nothing is lost either way. The hold was committed before the work, and the counters
    /// include it, so the quota is never overspent while the settlement is on its way. If the
    /// process dies before the settlement is written, the hold stays open and the scheduled work
    /// charges it as held when it expires — as it does when the process dies between the
    /// provider's answer and a settlement written before answering, a window no longer than
    /// this one. A graceful shutdown waits for the spawner's work.
    async fn settle_after(&self, agent_id: &str, hold: Hold, actual: u64) {
        match &self.inner.spawner {
            Some(spawner) if self.inner.settles.len() < super::quota::MAX_PENDING_SETTLES => {
                let pending = self.inner.settles.begin(agent_id);
                let gateway = self.clone();
                spawner.spawn(Box::pin(async move {
                    gateway.settle_logged(&hold, actual).await;
                    drop(pending);
                }));
            }
            _ => self.settle_logged(&hold, actual).await,
        }
    }

    async fn settle_logged(&self, hold: &Hold, actual: u64) {
        // The work is done and delivered; a failed settle leaves the (larger) hold charged,
        // which is logged for the operator rather than failing the caller's request.
        if let Err(e) = self.settle(hold, actual).await {
            tracing::error!(reservation = %hold.reservation_id, error = %e, "settle failed");
        }
    }

    /// Notes the conversation's last user message, when the operator keeps prompts.
    fn note_prompt(&self, principal: &AgentPrincipal, request: &TextRequest) {
        if !self.inner.config.request_log.keep_prompts || !principal.notes.is_recording() {
            return;
        }
        let last = request.messages.iter().rev().find(|m| m.role == Role::User);
        if let Some(message) = last {
            principal.notes.prompt(true, &message.content);
        }
    }

    async fn refund_logged(&self, hold: &Hold) {
        if let Err(e) = self.refund(hold).await {
            tracing::error!(reservation = %hold.reservation_id, error = %e, "refund failed");
        }
    }

    /// Generates text with `model` (or a fallback).
    pub async fn generate_text(
        &self,
        principal: &AgentPrincipal,
        model: &str,
        request: TextRequest,
    ) -> Result<Generated<TextResponse>> {
        check_text(&request)?;
        self.note_prompt(principal, &request);
        let chain = self.model_chain(principal, model, Modality::Text).await?;
        // The provider is sent the cap the hold was sized for, so it cannot write past it.
        let request = capped(request);
        let estimate = text_hold(&request);
        let work = async {
            match self
                .route(
                    &principal.instance,
                    &principal.notes,
                    &chain,
                    Work::Text(&request),
                )
                .await?
            {
                (model, Output::Text(output)) => Ok(Generated::new(model, output)),
                _ => Err(unexpected()),
            }
        };
        self.with_hold(principal, Unit::TextToken, estimate, work, |g| {
            g.output.usage.total()
        })
        .await
    }

    /// Streams text. The hold is settled when the stream ends: with the provider's usage if it
    /// reported one, else with an estimate of what was generated.
    pub async fn stream_text(
        &self,
        principal: &AgentPrincipal,
        model: &str,
        request: TextRequest,
    ) -> Result<Generated<TextStream>> {
        check_text(&request)?;
        self.note_prompt(principal, &request);
        let chain = self.model_chain(principal, model, Modality::Text).await?;
        let request = capped(request);
        let prompt = prompt_estimate(&request);
        let cap = u64::from(completion_cap(&request));
        let hold = self
            .reserve(principal, Unit::TextToken, text_hold(&request))
            .await?;
        principal.notes.held(Unit::TextToken, hold.amount);
        let (model, inner) = match self
            .route(
                &principal.instance,
                &principal.notes,
                &chain,
                Work::TextStream(&request),
            )
            .await
        {
            Ok((model, Output::TextStream(s))) => (model, s),
            Ok(_) => {
                principal.notes.charged(0);
                self.refund_logged(&hold).await;
                return Err(unexpected());
            }
            Err(e) => {
                principal.notes.charged(0);
                self.refund_logged(&hold).await;
                return Err(e);
            }
        };
        let output = settle_when_done(
            self.clone(),
            principal.notes.clone(),
            hold,
            prompt,
            cap,
            inner,
        );
        Ok(Generated::new(model, output))
    }

    /// Generates `request.n` images.
    pub async fn generate_images(
        &self,
        principal: &AgentPrincipal,
        model: &str,
        request: ImageRequest,
    ) -> Result<Generated<Vec<GeneratedImage>>> {
        if request.prompt.trim().is_empty() {
            return Err(Error::invalid("prompt", "prompt must not be empty"));
        }
        if request.n == 0 || request.n > MAX_IMAGES_PER_REQUEST {
            return Err(Error::invalid(
                "n",
                format!("n must be between 1 and {MAX_IMAGES_PER_REQUEST}"),
            ));
        }
        let chain = self.model_chain(principal, model, Modality::Image).await?;
        let work = async {
            match self
                .route(
                    &principal.instance,
                    &principal.notes,
                    &chain,
                    Work::Images(&request),
                )
                .await?
            {
                (model, Output::Images(output)) if !output.is_empty() => {
                    Ok(Generated::new(model, output))
                }
                (_, Output::Images(_)) => Err(Error::unavailable("the provider returned no image")),
                _ => Err(unexpected()),
            }
        };
        let mut generated = self
            .with_hold(principal, Unit::Image, u64::from(request.n), work, |g| {
                g.output.len() as u64
            })
            .await?;
        // Images the provider hosts are copied from its URLs, fetched as `outbound.rs` says.
        let operator = if generated
            .output
            .iter()
            .any(|i| matches!(i.data, ImageData::Url(_)))
        {
            self.output_origin(&principal.instance, &generated.model)
                .await
        } else {
            None
        };
        for image in &generated.output {
            let kept = match &image.data {
                ImageData::Bytes {
                    bytes,
                    content_type,
                } => {
                    self.keep_output(principal, "image", content_type, bytes.clone())
                        .await
                }
                ImageData::Url(url) => {
                    self.keep_output_from_url(principal, "image", url, operator.as_ref())
                        .await
                }
            };
            generated.artifacts.push(kept);
        }
        Ok(generated)
    }

    /// Synthesises speech, charged in whole seconds of the audio produced.
    pub async fn speech(
        &self,
        principal: &AgentPrincipal,
        model: &str,
        request: SpeechRequest,
    ) -> Result<Generated<SpeechResponse>> {
        if request.text.trim().is_empty() {
            return Err(Error::invalid("input", "input must not be empty"));
        }
        if request.text.chars().count() > MAX_SPEECH_CHARS {
            return Err(Error::invalid(
                "input",
                format!("input must be at most {MAX_SPEECH_CHARS} characters"),
            ));
        }
        check_speed(&request)?;
        let chain = self.model_chain(principal, model, Modality::Speech).await?;
        let estimate = speech_hold(&request);
        let work = async {
            match self
                .route(
                    &principal.instance,
                    &principal.notes,
                    &chain,
                    Work::Speech(&request),
                )
                .await?
            {
                (model, Output::Speech(output)) => Ok(Generated::new(model, output)),
                _ => Err(unexpected()),
            }
        };
        // Seconds are charged rounded up: a 1.2 s clip is 2 audio_seconds.
        let mut generated = self
            .with_hold(principal, Unit::AudioSecond, estimate, work, |g| {
                g.output.duration_seconds.max(0.0).ceil() as u64
            })
            .await?;
        let kept = self
            .keep_output(
                principal,
                "speech",
                &generated.output.content_type,
                generated.output.audio.clone(),
            )
            .await;
        generated.artifacts.push(kept);
        Ok(generated)
    }

    /// The voices a speech model's provider offers. Not charged.
    pub async fn voices(
        &self,
        principal: &AgentPrincipal,
        model: &str,
    ) -> Result<Generated<Vec<Voice>>> {
        let chain = self.model_chain(principal, model, Modality::Speech).await?;
        match self
            .route(
                &principal.instance,
                &principal.notes,
                &chain[..1],
                Work::Voices,
            )
            .await?
        {
            (model, Output::Voices(output)) => Ok(Generated::new(model, output)),
            _ => Err(unexpected()),
        }
    }

    /// Searches stock media; one search is one `stock_search` unit.
    pub async fn stock_search(
        &self,
        principal: &AgentPrincipal,
        model: &str,
        request: StockRequest,
    ) -> Result<Generated<StockResponse>> {
        if request.query.trim().is_empty() {
            return Err(Error::invalid("query", "query must not be empty"));
        }
        if request.page == 0 || request.per_page == 0 || request.per_page > 80 {
            return Err(Error::invalid(
                "per_page",
                "page must be at least 1 and per_page between 1 and 80",
            ));
        }
        let chain = self.model_chain(principal, model, Modality::Stock).await?;
        let work = async {
            match self
                .route(
                    &principal.instance,
                    &principal.notes,
                    &chain,
                    Work::Stock(&request),
                )
                .await?
            {
                (model, Output::Stock(output)) => Ok(Generated::new(model, output)),
                _ => Err(unexpected()),
            }
        };
        self.with_hold(principal, Unit::StockSearch, 1, work, |_| 1)
            .await
    }
}

/// The request with the completion cap made explicit, as every provider will be sent it.
fn capped(mut request: TextRequest) -> TextRequest {
    request.max_tokens_is_default = request.max_tokens.is_none();
    request.max_tokens = Some(completion_cap(&request));
    request
}

fn check_text(request: &TextRequest) -> Result<()> {
    if request.messages.is_empty() {
        return Err(Error::invalid("messages", "messages must not be empty"));
    }
    if request.max_tokens == Some(0) {
        return Err(Error::invalid(
            "max_tokens",
            "max_tokens must be at least 1",
        ));
    }
    Ok(())
}

/// Passes the chunks through and settles the hold once, when the stream finishes or fails.
/// A provider that writes far past the cap it was sent (one that ignores `max_tokens`) is cut
/// off with a `length` finish; what it wrote past the hold is never charged beyond a top-up.
fn settle_when_done(
    gateway: Gateway,
    notes: RequestNotes,
    hold: Hold,
    prompt_estimate: u64,
    completion_cap: u64,
    inner: TextStream,
) -> TextStream {
    struct State {
        gateway: Gateway,
        notes: RequestNotes,
        hold: Option<Hold>,
        inner: TextStream,
        generated_chars: String,
        prompt_estimate: u64,
        completion_cap: u64,
        over_cap: bool,
    }
    impl State {
        async fn settle(&mut self, usage: Option<u64>) {
            if let Some(hold) = self.hold.take() {
                let actual = usage.unwrap_or_else(|| {
                    self.prompt_estimate + estimate_tokens(&self.generated_chars)
                });
                self.notes.charged(actual.min(hold.amount));
                self.gateway.settle_logged(&hold, actual).await;
            }
        }
    }
    let state = State {
        gateway,
        notes,
        hold: Some(hold),
        inner,
        generated_chars: String::new(),
        prompt_estimate,
        completion_cap,
        over_cap: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        state.hold.as_ref()?;
        if state.over_cap {
            state.settle(None).await;
            let finish = TextChunk::Finish {
                reason: FinishReason::Length,
                usage: None,
            };
            return Some((Ok(finish), state));
        }
        match state.inner.next().await {
            Some(Ok(TextChunk::Delta(text))) => {
                state.generated_chars.push_str(&text);
                // Twice the cap in the rough count: a provider that honours the cap ends first
                // with its own usage; only one that ignores it gets this far.
                state.over_cap = estimate_tokens(&state.generated_chars)
                    > state.completion_cap.saturating_mul(2);
                Some((Ok(TextChunk::Delta(text)), state))
            }
            Some(Ok(TextChunk::Finish { reason, usage })) => {
                state.settle(usage.map(|u| u.total())).await;
                Some((Ok(TextChunk::Finish { reason, usage }), state))
            }
            // A stream cut mid-way is charged for what was generated, and reported as an error.
            Some(Err(e)) => {
                state.settle(None).await;
                Some((Err(e), state))
            }
            None => {
                state.settle(None).await;
                None
            }
        }
    })
    .boxed()
}
