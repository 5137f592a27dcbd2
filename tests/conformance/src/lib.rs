//! molts-conformance: the black-box HTTP suite every molts runtime must pass.
//!
//! Its only inputs are a [`Target`]: the server's base URL and an operator admin token. It knows
//! nothing of how the server was started (standalone on SQLite or PostgreSQL, `wrangler dev`, a
//! Lambda emulator, or the router in-process), so the same [`CASES`] prove every runtime behaves
//! alike. Each case creates its own uniquely named instances, agents, tiers and models, so cases
//! do not interfere with each other and the suite can run again and again against a long-lived
//! server.
//!
//! Two cases also stand up servers of their own on `127.0.0.1` for the server under test to
//! reach: a webhook receiver and the fake providers (`molts-fakes`). So the server must run on
//! the same machine, with `MOLTS_WEBHOOK_ALLOW_HOSTS=127.0.0.1` and `MOLTS_SECRET_KEY` set, and
//! its scheduled work running (see `cases/jobs/outbound.rs`).
//!
//! ```no_run
//! # async fn demo() {
//! let target = molts_conformance::Target {
//!     base_url: "http://127.0.0.1:8080".into(),
//!     admin_token: "mla_…".into(),
//! };
//! let report = molts_conformance::run(&target, None).await;
//! print!("{report}");
//! assert!(report.ok());
//! # }
//! ```

mod cases;
mod client;
mod fixtures;
mod receiver;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

pub use cases::CASES;
pub use client::Ctx;

/// The server under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where the server listens, e.g. `http://127.0.0.1:8080` (a trailing `/` is ignored).
    pub base_url: String,
    /// A bearer token of an operator admin key that may write (`mla_…`, or a chosen token).
    pub admin_token: String,
}

/// What a case returns: `Err` says what was expected and what came back.
pub type CaseResult = Result<(), String>;

/// The future a case runs as.
pub type CaseFuture<'a> = Pin<Box<dyn Future<Output = CaseResult> + Send + 'a>>;

/// One named check of the suite.
#[derive(Clone, Copy)]
pub struct Case {
    /// `theme.name`, e.g. `keys.lifecycle`; `--filter` matches substrings of it.
    pub name: &'static str,
    /// Runs the case against the context's server.
    pub run: for<'a> fn(&'a Ctx) -> CaseFuture<'a>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How one case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The case's name.
    pub name: &'static str,
    /// `None` when it passed; otherwise what went wrong.
    pub error: Option<String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Outcome {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.error.is_none()
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.elapsed.as_millis();
        match &self.error {
            None => write!(f, "ok   {} ({ms} ms)", self.name),
            Some(e) => write!(f, "FAIL {} ({ms} ms): {e}", self.name),
        }
    }
}

/// A failed case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The case's name.
    pub name: String,
    /// What was expected and what came back.
    pub message: String,
}

/// The result of a run: every case, in the order run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Names of the cases that passed.
    pub passed: Vec<String>,
    /// The cases that failed, with why.
    pub failed: Vec<Failure>,
    /// Every outcome in order, for printing.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether every case that ran passed (and at least one ran).
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && !self.passed.is_empty()
    }

    /// The closing line: `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed.len(), self.failed.len())
    }

    fn push(&mut self, outcome: Outcome) {
        match &outcome.error {
            None => self.passed.push(outcome.name.to_owned()),
            Some(e) => self.failed.push(Failure {
                name: outcome.name.to_owned(),
                message: e.clone(),
            }),
        }
        self.outcomes.push(outcome);
    }
}

impl fmt::Display for Report {
    /// One line per case, then the summary alone on the last line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for outcome in &self.outcomes {
            writeln!(f, "{outcome}")?;
        }
        writeln!(f, "{}", self.summary())
    }
}

/// The cases whose name contains `filter` (every case when `None`).
pub fn selected(filter: Option<&str>) -> Vec<&'static Case> {
    CASES
        .iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f)))
        .collect()
}

/// Runs every case (or those whose name contains `filter`) against `target`, one after another.
pub async fn run(target: &Target, filter: Option<&str>) -> Report {
    run_observed(target, filter, |_| {}).await
}

/// [`run`], calling `observe` with each outcome as soon as its case ends (for live output).
pub async fn run_observed(
    target: &Target,
    filter: Option<&str>,
    mut observe: impl FnMut(&Outcome),
) -> Report {
    let mut report = Report::default();
    let ctx = match Ctx::new(target) {
        Ok(ctx) => ctx,
        Err(e) => {
            let outcome = Outcome {
                name: "setup",
                error: Some(e),
                elapsed: Duration::ZERO,
            };
            observe(&outcome);
            report.push(outcome);
            return report;
        }
    };
    for case in selected(filter) {
        let started = Instant::now();
        let error = (case.run)(&ctx).await.err();
        let outcome = Outcome {
            name: case.name,
            error,
            elapsed: started.elapsed(),
        };
        observe(&outcome);
        report.push(outcome);
    }
    report
}
