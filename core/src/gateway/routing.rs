//! Routing one piece of work across a model config and its fallbacks: retries with jittered
//! exponential backoff that honour a provider's `Retry-After`, then the next fallback. Every
//! attempt is logged with its provider, model and outcome.

use crate::Retry;
use std::time::Duration;

use crate::ErrorCode;
use crate::domain::{Modality, ModelConfig, ProviderAttempt};
use crate::error::{Error, Result};
use crate::providers::{
    Call, GeneratedImage, ImageRequest, PersonaRequest, ProviderAdapter, RenderRequest,
    SpeechRequest, SpeechResponse, StockRequest, StockResponse, SubmittedJob, TextRequest,
    TextResponse, TextStream, VideoRequest, Voice, is_retryable,
};

use super::outbound::tenant_refusal;
use super::request_notes::RequestNotes;
use super::{AgentPrincipal, Gateway};

/// Whole milliseconds from `from` to `to` (0 if the clock went back).
pub(super) fn millis_since(from: crate::Timestamp, to: crate::Timestamp) -> u64 {
    u64::try_from((to - from).num_milliseconds()).unwrap_or(0)
}

/// The work an attempt does.
pub(super) enum Work<'r> {
    Text(&'r TextRequest),
    TextStream(&'r TextRequest),
    Images(&'r ImageRequest),
    Speech(&'r SpeechRequest),
    Voices,
    Stock(&'r StockRequest),
    SubmitVideo(&'r VideoRequest),
    SubmitRender(&'r RenderRequest),
    SubmitPersona(&'r PersonaRequest),
}

/// What an attempt produced.
pub(super) enum Output {
    Text(TextResponse),
    TextStream(TextStream),
    Images(Vec<GeneratedImage>),
    Speech(SpeechResponse),
    Voices(Vec<Voice>),
    Stock(StockResponse),
    Submitted(SubmittedJob),
}

async fn call_once(
    adapter: &dyn ProviderAdapter,
    call: Call<'_>,
    work: &Work<'_>,
) -> Result<Output> {
    Ok(match work {
        Work::Text(r) => Output::Text(adapter.text(call, r).await?),
        Work::TextStream(r) => Output::TextStream(adapter.text_stream(call, r).await?),
        Work::Images(r) => Output::Images(adapter.images(call, r).await?),
        Work::Speech(r) => Output::Speech(adapter.speech(call, r).await?),
        Work::Voices => Output::Voices(adapter.voices(call).await?),
        Work::Stock(r) => Output::Stock(adapter.stock(call, r).await?),
        Work::SubmitVideo(r) => Output::Submitted(adapter.submit_video(call, r).await?),
        Work::SubmitRender(r) => Output::Submitted(adapter.submit_render(call, r).await?),
        Work::SubmitPersona(r) => Output::Submitted(adapter.submit_persona(call, r).await?),
    })
}

/// Whose credentials a model calls with: its provider's, or for a template model the provider
/// its mapping names in `key_from`.
pub(super) fn credentials_of(model: &ModelConfig) -> crate::domain::Provider {
    match model.provider {
        crate::domain::Provider::Template => {
            crate::providers::template::key_provider(model).unwrap_or(model.provider)
        }
        other => other,
    }
}

impl Gateway {
    /// The requested model and its usable fallbacks, in order, without repeats.
    pub(super) async fn model_chain(
        &self,
        principal: &AgentPrincipal,
        requested: &str,
        modality: Modality,
    ) -> Result<Vec<ModelConfig>> {
        principal.notes.model(requested);
        // An alias is balanced by weight; its other members follow as fallbacks.
        let mut chain = match self
            .alias_members(&principal.instance, requested, modality)
            .await?
        {
            Some(members) => members,
            None => vec![
                self.resolve_model(&principal.instance, requested, Some(modality))
                    .await?,
            ],
        };
        let mut i = 0;
        // Fallbacks may have fallbacks; walk breadth-first and stop at repeats.
        while i < chain.len() && chain.len() < 8 {
            for id in chain[i].fallbacks.clone() {
                if chain.iter().any(|m| m.id == id) {
                    continue;
                }
                match self
                    .resolve_model(&principal.instance, &id, Some(modality))
                    .await
                {
                    Ok(m) => chain.push(m),
                    Err(e) => tracing::debug!(fallback = %id, error = %e, "fallback skipped"),
                }
            }
            i += 1;
        }
        Ok(chain)
    }

    /// Runs `work` on the first model in `chain` that succeeds. Non-retryable errors (the
    /// caller's mistakes) end the attempt at once; the last error is returned if all fail.
    pub(super) async fn route(
        &self,
        instance: &crate::domain::Instance,
        notes: &RequestNotes,
        chain: &[ModelConfig],
        work: Work<'_>,
    ) -> Result<(ModelConfig, Output)> {
        let policy = self.inner.providers.retry();
        let mut last: Option<Error> = None;
        for model in chain {
            let resolved = match self.credentials_for(instance, credentials_of(model)).await {
                Ok(c) => c,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            // The tenant's own base URL goes through the public-only client (`outbound.rs`).
            let adapter = match self.adapter_for(model, &resolved) {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(provider = model.provider.as_str(), model = %model.id, "provider not enabled");
                    last = Some(e);
                    continue;
                }
            };
            let call = Call {
                model,
                credentials: &resolved.credentials,
                timeout: self.inner.providers.timeout(model.provider),
            };
            for attempt in 1..=policy.attempts_per_model.max(1) {
                let started = self.now();
                let outcome = call_once(adapter.as_ref(), call, &work)
                    .await
                    .map_err(|e| tenant_refusal(e, model.provider));
                notes.attempt(ProviderAttempt {
                    provider: model.provider,
                    model: model.id.clone(),
                    error: outcome
                        .as_ref()
                        .err()
                        .map(|e| e.code().unwrap_or(ErrorCode::InternalError)),
                    latency_ms: millis_since(started, self.now()),
                });
                match outcome {
                    Ok(output) => {
                        tracing::info!(provider = model.provider.as_str(), model = %model.id, attempt, outcome = "ok", "provider attempt");
                        return Ok((model.clone(), output));
                    }
                    Err(e) => {
                        let retryable = is_retryable(&e);
                        tracing::warn!(provider = model.provider.as_str(), model = %model.id, attempt, outcome = "error", retryable, error = %e, "provider attempt");
                        if !retryable {
                            return Err(e);
                        }
                        let wait = self.backoff(attempt, e.retry_after());
                        // A refused or missing key, or a tenant's base URL on an internal
                        // address, will not fix itself in a moment: go straight to the next
                        // fallback instead of retrying this provider.
                        let hopeless = e.retry() == Retry::Fallback;
                        last = Some(e);
                        if attempt == policy.attempts_per_model || hopeless {
                            break;
                        }
                        match (wait, self.inner.providers.sleeper()) {
                            (Some(wait), Some(sleeper)) => sleeper.sleep(wait).await,
                            // A Retry-After too long to wait for: try the next fallback instead.
                            _ => break,
                        }
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::unavailable("no provider could serve this request")))
    }

    /// The wait before retry `attempt + 1`: the provider's `Retry-After` if it gave one (and it is
    /// short enough), else exponential backoff with jitter. `None` means "do not wait here".
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let policy = self.inner.providers.retry();
        if let Some(after) = retry_after {
            return (after <= policy.max_retry_after).then_some(after);
        }
        let exp = policy
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(policy.max_backoff);
        let mut byte = [0u8; 1];
        let jitter = match self.inner.ports.ids.fill_secret(&mut byte) {
            Ok(()) => exp.mul_f64(f64::from(byte[0]) / 255.0 * 0.5),
            Err(_) => Duration::ZERO,
        };
        Some(exp + jitter)
    }
}
