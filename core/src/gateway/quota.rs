//! Quota use cases: holding units before work, settling or refunding after, and usage reports.

use serde::Serialize;

use crate::clock::{day_key, month_key};
use crate::domain::{
    LimitValue, Period, PeriodLimit, Reservation, ReserveOutcome, ReserveRequest, Tier, Unit,
};
use crate::error::{Error, ErrorKind, Result};

use super::{AgentPrincipal, Gateway};

/// How long a synchronous call's hold may stay open. Longer than any provider timeout, so only
/// holds whose closing was lost (a client that hung up mid-stream, a crash) reach it.
pub const HOLD_TTL: chrono::Duration = chrono::Duration::minutes(15);

/// Units held for one piece of work. Settle or refund it exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The reservation id.
    pub reservation_id: String,
    /// Which unit.
    pub unit: Unit,
    /// How many were held.
    pub amount: u64,
}

/// Use of one unit in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodUsage {
    /// Units used or held.
    pub used: u64,
    /// The cap, or `"unlimited"`.
    pub limit: LimitValue,
    /// What is left, or `"unlimited"`.
    pub remaining: LimitValue,
}

/// Use of one unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitUsage {
    /// Which unit.
    pub unit: Unit,
    /// Today (UTC).
    pub day: PeriodUsage,
    /// This month (UTC).
    pub month: PeriodUsage,
}

/// An agent's usage against its tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// The tier's id.
    pub tier: String,
    /// Today's key (`2026-11-24`).
    pub day: String,
    /// This month's key (`2026-11`).
    pub month: String,
    /// Every unit.
    pub units: Vec<UnitUsage>,
}

impl UsageReport {
    /// The usage of one unit.
    pub fn unit(&self, unit: Unit) -> Option<&UnitUsage> {
        self.units.iter().find(|u| u.unit == unit)
    }
}

fn period_usage(tier: &Tier, unit: Unit, period: Period, used: u64) -> PeriodUsage {
    match tier.limit(unit, period) {
        Some(max) => PeriodUsage {
            used,
            limit: LimitValue::Max(max),
            remaining: LimitValue::Max(max.saturating_sub(used)),
        },
        None => PeriodUsage {
            used,
            limit: LimitValue::Unlimited,
            remaining: LimitValue::Unlimited,
        },
    }
}

impl Gateway {
    /// Holds `amount` units for the caller, or fails with `QuotaExceeded` naming the full period.
    /// An unclosed hold is charged as held after [`HOLD_TTL`] by the scheduled work.
    pub async fn reserve(
        &self,
        principal: &AgentPrincipal,
        unit: Unit,
        amount: u64,
    ) -> Result<Hold> {
        self.reserve_for(principal, unit, amount, HOLD_TTL).await
    }

    /// Holds units for work that may take up to `ttl` (long-running jobs hold for longer).
    pub async fn reserve_for(
        &self,
        principal: &AgentPrincipal,
        unit: Unit,
        amount: u64,
        ttl: chrono::Duration,
    ) -> Result<Hold> {
        let id = self.ports.ids.id("rsv");
        self.reserve_as(principal, id, unit, amount, ttl).await
    }

    /// Holds units under a chosen reservation id (a job holds under its own id, so a hold whose
    /// job was never stored can be told apart when it expires).
    pub(crate) async fn reserve_as(
        &self,
        principal: &AgentPrincipal,
        reservation_id: String,
        unit: Unit,
        amount: u64,
        ttl: chrono::Duration,
    ) -> Result<Hold> {
        let now = self.now();
        let tier = &principal.tier;
        let request = ReserveRequest {
            reservation_id,
            agent_id: principal.agent.id.clone(),
            unit,
            amount,
            periods: vec![
                PeriodLimit {
                    period: Period::Day,
                    key: day_key(now),
                    max: tier.limit(unit, Period::Day),
                },
                PeriodLimit {
                    period: Period::Month,
                    key: month_key(now),
                    max: tier.limit(unit, Period::Month),
                },
            ],
            at: now,
            expires_at: now + ttl,
        };
        match self.ports.stores.quota.reserve(&request).await? {
            ReserveOutcome::Reserved => Ok(Hold {
                reservation_id: request.reservation_id,
                unit,
                amount,
            }),
            ReserveOutcome::Exceeded { period, max, used } => Err(Error::new(
                ErrorKind::QuotaExceeded,
                format!(
                    "{} {unit} limit of {max} reached on tier '{}' ({used} used, {amount} asked)",
                    period.adjective(),
                    tier.id
                ),
            )
            .with_code("quota_exceeded")),
        }
    }

    /// Charges the measured amount for a hold.
    pub async fn settle(&self, hold: &Hold, actual: u64) -> Result<Reservation> {
        self.ports
            .stores
            .quota
            .settle(&hold.reservation_id, actual, self.now())
            .await
    }

    /// Gives a hold's units back.
    pub async fn refund(&self, hold: &Hold) -> Result<Reservation> {
        self.ports
            .stores
            .quota
            .refund(&hold.reservation_id, self.now())
            .await
    }

    /// The caller's usage in the current day and month, against its tier.
    pub async fn usage(&self, principal: &AgentPrincipal) -> Result<UsageReport> {
        self.usage_for(&principal.agent.id, &principal.tier).await
    }

    pub(super) async fn usage_for(&self, agent_id: &str, tier: &Tier) -> Result<UsageReport> {
        let now = self.now();
        let (day, month) = (day_key(now), month_key(now));
        let counters = self
            .ports
            .stores
            .quota
            .usage(
                agent_id,
                &[(Period::Day, day.clone()), (Period::Month, month.clone())],
            )
            .await?;
        let used = |unit: Unit, period: Period| {
            counters
                .iter()
                .filter(|c| c.unit == unit && c.period == period)
                .map(|c| c.used)
                .sum::<u64>()
        };
        let units = Unit::ALL
            .into_iter()
            .map(|unit| UnitUsage {
                unit,
                day: period_usage(tier, unit, Period::Day, used(unit, Period::Day)),
                month: period_usage(tier, unit, Period::Month, used(unit, Period::Month)),
            })
            .collect();
        Ok(UsageReport {
            tier: tier.id.clone(),
            day,
            month,
            units,
        })
    }
}
