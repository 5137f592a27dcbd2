//! The scheduled work hook every runtime calls on a timer (an interval task in the standalone
//! binary, a cron trigger on Workers, an EventBridge schedule on Lambda). It is where durable jobs
//! advance and the webhook outbox drains once the jobs issue lands; until then it does nothing,
//! so runtimes can wire the timer now and get the work for free later.

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
}

impl Gateway {
    /// Runs one round of scheduled work. Safe to call from several replicas at once and as
    /// often as wanted: every step it will take is idempotent.
    pub async fn run_scheduled_work(&self) -> Result<ScheduledReport> {
        Ok(ScheduledReport::default())
    }
}
