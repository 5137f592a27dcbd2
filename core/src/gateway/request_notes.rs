//! What core learns about a request while serving it — the model asked for, each provider
//! attempt, the units held and charged, the job — noted for the request log.
//!
//! The HTTP layer makes one [`RequestNotes`] per request and hands it to core inside the
//! caller's principal; core notes as it goes, and the HTTP layer reads the notes when the answer
//! is finished (for a stream, at its end, after the settle was noted). Work no request asked for
//! (the scheduled work) carries the default, which notes nothing and costs nothing.

use std::sync::{Arc, Mutex};

use crate::domain::{ProviderAttempt, Unit};

/// The notes themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Noted {
    /// The model asked for.
    pub model: Option<String>,
    /// Provider attempts, in order.
    pub attempts: Vec<ProviderAttempt>,
    /// The unit held.
    pub unit: Option<Unit>,
    /// Units held (the sum, if a call held more than once).
    pub held: u64,
    /// Units charged; `None` until settled or refunded.
    pub charged: Option<u64>,
    /// The job made or read.
    pub job_id: Option<String>,
    /// The prompt, truncated, when the operator keeps prompts.
    pub prompt: Option<String>,
}

/// A request's notes, shared between the HTTP layer and core; cloning shares them.
#[derive(Clone, Default)]
pub struct RequestNotes(Option<Arc<Mutex<Noted>>>);

impl std::fmt::Debug for RequestNotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "RequestNotes(recording)"
        } else {
            "RequestNotes(off)"
        })
    }
}

/// Longest prompt kept when prompts are kept.
pub const MAX_NOTED_PROMPT: usize = 1000;

impl RequestNotes {
    /// Notes that record.
    pub fn recording() -> Self {
        Self(Some(Arc::new(Mutex::new(Noted::default()))))
    }

    /// Whether anything is recorded.
    pub fn is_recording(&self) -> bool {
        self.0.is_some()
    }

    fn with(&self, change: impl FnOnce(&mut Noted)) {
        if let Some(notes) = &self.0 {
            change(&mut notes.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// What was noted so far.
    pub fn read(&self) -> Noted {
        self.0
            .as_ref()
            .map(|n| n.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    pub(crate) fn model(&self, model: &str) {
        self.with(|n| n.model = Some(model.to_owned()));
    }

    pub(crate) fn attempt(&self, attempt: ProviderAttempt) {
        self.with(|n| n.attempts.push(attempt));
    }

    pub(crate) fn held(&self, unit: Unit, amount: u64) {
        self.with(|n| {
            n.unit = Some(unit);
            n.held = n.held.saturating_add(amount);
        });
    }

    pub(crate) fn charged(&self, amount: u64) {
        self.with(|n| n.charged = Some(n.charged.unwrap_or(0).saturating_add(amount)));
    }

    pub(crate) fn job(&self, job_id: &str) {
        self.with(|n| n.job_id = Some(job_id.to_owned()));
    }

    /// Keeps the prompt (cut at a character boundary) when `keep` is set.
    pub(crate) fn prompt(&self, keep: bool, prompt: &str) {
        if !keep {
            return;
        }
        let mut end = prompt.len().min(MAX_NOTED_PROMPT);
        while !prompt.is_char_boundary(end) {
            end -= 1;
        }
        self.with(|n| n.prompt = Some(prompt[..end].to_owned()));
    }
}
