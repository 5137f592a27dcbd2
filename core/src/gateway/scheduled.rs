//! The scheduled work hook every runtime calls on a timer (an interval task in the standalone
//! binary, a cron trigger on Workers, an EventBridge schedule on Lambda). Today it closes quota
//! holds whose closing was lost (a client that hung up mid-stream, a crash between the provider
//! call and the settle), charging them as held; durable jobs and the webhook outbox join it when
//! the jobs issue lands.

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
}

/// Holds closed per round, so one round stays short.
const HOLDS_PER_ROUND: u32 = 500;

impl Gateway {
    /// Runs one round of scheduled work. Safe to call from several replicas at once and as
    /// often as wanted: every step it will take is idempotent.
    pub async fn run_scheduled_work(&self) -> Result<ScheduledReport> {
        let mut report = ScheduledReport::default();
        let now = self.now();
        let quota = &self.ports.stores.quota;
        for hold in quota.expired_reservations(now, HOLDS_PER_ROUND).await? {
            // The work may have happened; charging what was held never undercharges, and the
            // counters already include it. Another replica may close it first: that is fine.
            match quota.settle(&hold.id, hold.reserved, now).await {
                Ok(_) => report.holds_expired += 1,
                Err(e) if e.kind() == crate::ErrorKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}
