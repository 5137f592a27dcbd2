//! An agent's view of itself: profile, tier, limits and usage.

use serde::Serialize;

use crate::domain::{Agent, Tier, Unit};
use crate::error::Result;

use super::{AgentPrincipal, Gateway, UsageReport};

/// What `GET /v1/agents/me` shows.
#[derive(Debug, Clone, Serialize)]
pub struct AgentProfile {
    /// The agent.
    pub agent: Agent,
    /// Its tier.
    pub tier: Tier,
    /// Its usage this day and month.
    pub usage: UsageReport,
}

impl AgentProfile {
    /// Videos used this month (the seed's `videos_generated`).
    pub fn videos_this_month(&self) -> u64 {
        self.usage.unit(Unit::Video).map_or(0, |u| u.month.used)
    }

    /// Seconds of speech used this month, as minutes (the seed's `monthly_usage_minutes`).
    pub fn speech_minutes_this_month(&self) -> f64 {
        let seconds = self
            .usage
            .unit(Unit::AudioSecond)
            .map_or(0, |u| u.month.used);
        // Seconds fit f64 exactly far beyond any real usage.
        #[allow(clippy::cast_precision_loss)]
        let minutes = seconds as f64 / 60.0;
        minutes
    }
}

impl Gateway {
    /// The caller's profile with usage.
    pub async fn me(&self, principal: &AgentPrincipal) -> Result<AgentProfile> {
        Ok(AgentProfile {
            agent: principal.agent.clone(),
            tier: principal.tier.clone(),
            usage: self.usage(principal).await?,
        })
    }
}
