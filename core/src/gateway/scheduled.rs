//! The scheduled work hook every runtime calls on a timer (an interval task in the standalone
//! binary, a cron trigger on Workers, an EventBridge schedule on Lambda). Today it closes quota
//! holds whose closing was lost (a client that hung up mid-stream, a crash between the provider
//! call and the settle), charging them as held; pushes every due durable job forward; attempts
//! due webhook deliveries; and has the rate limiter forget windows that have ended.

use serde::Serialize;

use crate::error::Result;

use super::Gateway;

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
}

/// Holds closed per round, so one round stays short.
const HOLDS_PER_ROUND: u32 = 500;
/// Jobs pushed forward per round.
const JOBS_PER_ROUND: u32 = 200;

impl Gateway {
    /// Runs one round of scheduled work. Safe to call from several replicas at once and as
    /// often as wanted: every step it will take is idempotent.
    pub async fn run_scheduled_work(&self) -> Result<ScheduledReport> {
        let mut report = ScheduledReport::default();
        let now = self.now();
        let quota = &self.inner.ports.stores.quota;
        for hold in quota.expired_reservations(now, HOLDS_PER_ROUND).await? {
            // A job holds under its own id; its hold is closed the way the job ended (or
            // refunded when the job was never stored: a crash between hold and insert).
            if hold.id.starts_with("job_") {
                match self.inner.ports.stores.jobs.get_job(&hold.id).await? {
                    Some(job) if job.status.is_final() => self.close_job_hold(&job).await,
                    Some(_) => continue,
                    None => self.refund_job_hold(&hold.id).await,
                }
                report.holds_expired += 1;
                continue;
            }
            // The work may have happened; charging what was held never undercharges, and the
            // counters already include it. Another replica may close it first: that is fine.
            match quota.settle(&hold.id, hold.reserved, now).await {
                Ok(_) => report.holds_expired += 1,
                Err(e) if e.kind() == crate::ErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        for job in self
            .inner
            .ports
            .stores
            .jobs
            .due_jobs(now, JOBS_PER_ROUND)
            .await?
        {
            let id = job.id.clone();
            let before = (job.status, job.version);
            match self.advance_job(job).await {
                Ok(after) if (after.status, after.version) != before => report.jobs_advanced += 1,
                Ok(_) => {}
                // One job's trouble must not stop the others.
                Err(e) => tracing::warn!(job = %id, error = %e, "advancing a job failed"),
            }
        }
        report.webhooks_attempted = self.deliver_due_webhooks().await?;
        // Housekeeping: a failure here costs a few stale rows, never a refused request, so it
        // is logged rather than failing the round.
        match self
            .inner
            .ports
            .rate_limiter
            .forget_finished(self.inner.config.rate_window, now)
            .await
        {
            Ok(n) => report.rate_windows_forgotten = n,
            Err(e) => tracing::warn!(error = %e, "forgetting finished rate windows failed"),
        }
        Ok(report)
    }
}
