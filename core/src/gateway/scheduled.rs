//! The scheduled work hook every runtime calls on a timer (an interval task in the standalone
//! binary, a cron trigger on Workers, an EventBridge schedule on Lambda). Today it closes quota
//! holds whose closing was lost (a client that hung up mid-stream, a crash between the provider
//! call and the settle), charging them as held; pushes every due durable job forward; attempts
//! due webhook deliveries; has the rate limiter forget windows that have ended; deletes
//! generated outputs past their retention (`retention.rs`); and forgets quota reservations
//! closed longer ago than [`GatewayConfig::reservation_retention`].
//!
//! One round is fair and bounded, so no tenant can stall another's background work:
//! - the due items (holds, jobs, deliveries) are taken round-robin across agents
//!   (`fair_order.rs`), at most [`ScheduledSettings::concurrency`] at once;
//! - no item starts once the round's [`ScheduledSettings::round_budget`] is spent (the rest
//!   stay due for the next round);
//! - every item runs under a deadline ([`ScheduledSettings::item_deadline`], with shorter ones
//!   inside it for each outbound attempt, `deadline.rs`), and a panic in one is caught and
//!   logged: either way the item is left as its claim made it, due again later, and the others
//!   go on. (On Workers a panic aborts the isolate: wasm cannot unwind.)
//!
//! Forgetting closed reservations is housekeeping after the items: a batch at a time (each a
//! short write, so requests' reservations go between batches), at least one a round and more
//! while the budget lasts, up to [`FORGET_BATCHES_PER_ROUND`]. A failure there is logged, not
//! the round's: it costs rows kept a little longer, never a refused request.
//!
//! [`GatewayConfig::reservation_retention`]: super::GatewayConfig::reservation_retention

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use serde::Serialize;

use crate::domain::{Job, Reservation, WebhookDelivery};
use crate::error::{Error, Result};

use super::Gateway;
use super::fair_order::round_robin;

/// What one run of the scheduled work did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScheduledReport {
    /// Jobs whose state moved.
    pub jobs_advanced: u32,
    /// Webhook deliveries attempted.
    pub webhooks_attempted: u32,
    /// Expired quota holds closed.
    pub holds_expired: u32,
    /// Finished rate-limit windows forgotten.
    pub rate_windows_forgotten: u64,
    /// Generated outputs deleted for being older than the retention window.
    pub outputs_expired: u32,
    /// Request log records forgotten for being older than their retention window.
    pub requests_forgotten: u64,
    /// Closed quota reservations past their retention forgotten.
    pub reservations_forgotten: u64,
    /// Items that failed, panicked or were cut by their deadline (each is logged).
    pub items_failed: u32,
    /// Items left for the next round because this one's time budget was spent.
    pub items_deferred: u32,
}

/// How rounds of scheduled work are bounded; the same on every runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledSettings {
    /// Items (a job step, a webhook delivery, an expired hold) worked on at once in a round.
    pub concurrency: usize,
    /// A round starts no item after this long; started ones end within their deadlines, so a
    /// round lasts at most this plus `item_deadline`.
    pub round_budget: Duration,
    /// The longest one item may run before it is cut and left for a later round. Its outbound
    /// attempts have their own, shorter deadlines: a webhook attempt the webhook timeout, a
    /// status check the provider's timeout, copying an output what is left of the job lease.
    pub item_deadline: Duration,
}

impl Default for ScheduledSettings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            round_budget: Duration::from_secs(30),
            item_deadline: Duration::from_secs(300),
        }
    }
}

/// Holds closed per round, so one round stays short.
const HOLDS_PER_ROUND: u32 = 500;
/// Jobs pushed forward per round.
const JOBS_PER_ROUND: u32 = 200;
/// Deliveries attempted per round.
const DELIVERIES_PER_ROUND: u32 = 200;
/// Closed reservations forgotten per batch. On SQLite a batch holds the write lock while it
/// deletes: a few milliseconds for this many, so a reservation waits at most that behind one.
const FORGET_BATCH: u32 = 500;
/// Batches per round at most, however much budget is left: 200 000 rows, so rounds every 10 s
/// keep up with 20 000 metered calls a second (an old backlog goes over several rounds).
const FORGET_BATCHES_PER_ROUND: u32 = 400;

/// One piece of due work.
enum Item {
    Hold(Reservation),
    Job(Box<Job>),
    Delivery(WebhookDelivery),
}

impl Item {
    fn agent_id(&self) -> &str {
        match self {
            Self::Hold(h) => &h.agent_id,
            Self::Job(j) => &j.agent_id,
            Self::Delivery(d) => &d.agent_id,
        }
    }

    /// What it is, for logs.
    fn label(&self) -> (&'static str, String) {
        match self {
            Self::Hold(h) => ("hold", h.id.clone()),
            Self::Job(j) => ("job", j.id.clone()),
            Self::Delivery(d) => ("webhook delivery", d.id.clone()),
        }
    }
}

/// What became of one item.
enum Outcome {
    HoldClosed,
    JobAdvanced,
    Attempted,
    /// Looked at; nothing to count (another worker had it, or it was not yet time).
    Nothing,
    Failed,
    Deferred,
}

impl ScheduledReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::HoldClosed => self.holds_expired += 1,
            Outcome::JobAdvanced => self.jobs_advanced += 1,
            Outcome::Attempted => self.webhooks_attempted += 1,
            Outcome::Nothing => {}
            Outcome::Failed => self.items_failed += 1,
            Outcome::Deferred => self.items_deferred += 1,
        }
    }
}

impl Gateway {
    /// Runs one round of scheduled work. Safe to call from several replicas at once and as
    /// often as wanted: every step it will take is idempotent.
    pub async fn run_scheduled_work(&self) -> Result<ScheduledReport> {
        let mut report = ScheduledReport::default();
        let started = self.now();
        let stores = &self.inner.ports.stores;
        let mut items: Vec<Item> = Vec::new();
        let holds = stores.quota.expired_reservations(started, HOLDS_PER_ROUND);
        items.extend(holds.await?.into_iter().map(Item::Hold));
        let jobs = stores.jobs.due_jobs(started, JOBS_PER_ROUND);
        items.extend(jobs.await?.into_iter().map(|j| Item::Job(Box::new(j))));
        let deliveries = stores
            .webhooks
            .due_deliveries(started, DELIVERIES_PER_ROUND);
        items.extend(deliveries.await?.into_iter().map(Item::Delivery));
        self.work_through(items, started, &mut report).await;
        // Jobs that finished just now queued their events: send them in this round too, while
        // its budget lasts (a deferred item would be counted twice).
        if !self.budget_spent(started) {
            let fresh = stores
                .webhooks
                .due_deliveries(self.now(), DELIVERIES_PER_ROUND)
                .await?;
            let fresh = fresh.into_iter().map(Item::Delivery).collect();
            self.work_through(fresh, started, &mut report).await;
        }
        // Housekeeping: a failure here costs a few stale rows, never a refused request, so it
        // is logged rather than failing the round.
        match self
            .inner
            .ports
            .rate_limiter
            .forget_finished(self.inner.config.rate_window, started)
            .await
        {
            Ok(n) => report.rate_windows_forgotten = n,
            Err(e) => tracing::warn!(error = %e, "forgetting finished rate windows failed"),
        }
        report.reservations_forgotten = self.forget_closed_reservations(started).await;
        // Records a runtime without a spawner could not write yet (a stream's, answered after
        // its flush) are written now.
        self.flush_request_log().await;
        match self.forget_old_requests(started).await {
            Ok(n) => report.requests_forgotten = n,
            Err(e) => tracing::warn!(error = %e, "forgetting old request records failed"),
        }
        if !self.budget_spent(started) {
            match self.prune_expired_outputs(started).await {
                Ok(pruned) => {
                    report.outputs_expired = pruned.deleted;
                    report.items_failed += pruned.failed;
                }
                Err(e) => tracing::warn!(error = %e, "looking for expired outputs failed"),
            }
        }
        Ok(report)
    }

    /// Forgets reservations closed before the retention window, a batch at a time: at least
    /// one batch, then more while each comes back full and the round's budget lasts.
    async fn forget_closed_reservations(&self, started: crate::clock::Timestamp) -> u64 {
        let retention = self.inner.config.reservation_retention;
        let Some(before) = chrono::Duration::from_std(retention)
            .ok()
            .and_then(|r| started.checked_sub_signed(r))
        else {
            return 0;
        };
        let quota = &self.inner.ports.stores.quota;
        let mut forgotten = 0u64;
        for batch in 0..FORGET_BATCHES_PER_ROUND {
            if batch > 0 && self.budget_spent(started) {
                break;
            }
            match quota.forget_closed_reservations(before, FORGET_BATCH).await {
                Ok(n) => {
                    forgotten += u64::from(n);
                    if n < FORGET_BATCH {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "forgetting closed reservations failed");
                    break;
                }
            }
        }
        forgotten
    }

    /// Works through `items` fairly, a few at once, starting none once the round's budget is
    /// spent, and counts what became of each.
    async fn work_through(
        &self,
        items: Vec<Item>,
        started: crate::clock::Timestamp,
        report: &mut ScheduledReport,
    ) {
        let concurrency = self.inner.config.scheduled.concurrency.max(1);
        let mut outcomes = futures::stream::iter(round_robin(items, Item::agent_id))
            .map(|item| {
                // Judged when the item is given a place, not when the round began.
                let admitted = !self.budget_spent(started);
                async move {
                    if admitted {
                        self.run_item(item).await
                    } else {
                        Outcome::Deferred
                    }
                }
            })
            .buffer_unordered(concurrency);
        while let Some(outcome) = outcomes.next().await {
            report.count(outcome);
        }
    }

    fn budget_spent(&self, started: crate::clock::Timestamp) -> bool {
        let spent = (self.now() - started).to_std().unwrap_or_default();
        spent >= self.inner.config.scheduled.round_budget
    }

    /// One item under its deadline, a panic in it caught: whatever happens, it ends.
    async fn run_item(&self, item: Item) -> Outcome {
        let (kind, id) = item.label();
        let work = AssertUnwindSafe(self.work_on(item)).catch_unwind();
        let caught = async {
            work.await.unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Error::internal(format!("panicked: {message}")))
            })
        };
        let deadline = self.inner.config.scheduled.item_deadline;
        match self.within(deadline, "the scheduled work", caught).await {
            Ok(outcome) => outcome,
            Err(e) => {
                // One item's trouble must not stop the others; it is due again later.
                tracing::warn!(item = kind, id = %id, error = %e, "scheduled work on an item failed");
                Outcome::Failed
            }
        }
    }

    async fn work_on(&self, item: Item) -> Result<Outcome> {
        match item {
            Item::Hold(hold) => self.close_expired_hold(hold).await,
            Item::Job(job) => {
                let before = (job.status, job.version);
                let after = self.advance_job(*job).await?;
                Ok(if (after.status, after.version) != before {
                    Outcome::JobAdvanced
                } else {
                    Outcome::Nothing
                })
            }
            Item::Delivery(delivery) => Ok(if self.deliver(delivery).await? {
                Outcome::Attempted
            } else {
                Outcome::Nothing
            }),
        }
    }

    async fn close_expired_hold(&self, hold: Reservation) -> Result<Outcome> {
        // A job holds under its own id; its hold is closed the way the job ended (or refunded
        // when the job was never stored: a crash between hold and insert).
        if hold.id.starts_with("job_") {
            match self.inner.ports.stores.jobs.get_job(&hold.id).await? {
                Some(job) if job.status.is_final() => self.close_job_hold(&job).await,
                Some(_) => return Ok(Outcome::Nothing),
                None => self.refund_job_hold(&hold.id).await,
            }
            return Ok(Outcome::HoldClosed);
        }
        // The work may have happened; charging what was held never undercharges, and the
        // counters already include it. Another replica may close it first: that is fine.
        match self
            .inner
            .ports
            .stores
            .quota
            .settle(&hold.id, hold.reserved, self.now())
            .await
        {
            Ok(_) => Ok(Outcome::HoldClosed),
            Err(e) if e.kind() == crate::ErrorKind::Conflict => Ok(Outcome::Nothing),
            Err(e) => Err(e),
        }
    }
}
