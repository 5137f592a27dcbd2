//! Quota use cases: holding units before work, settling or refunding after, and usage reports.

use crate::ErrorCode;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::Shared;
use serde::Serialize;

use crate::clock::{day_key, month_key};
use crate::domain::{
    Instance, LimitValue, Period, PeriodLimit, Reservation, ReserveOutcome, ReserveRequest,
    StorageLimits, Tier, Unit,
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
    /// Whose quota.
    pub agent_id: String,
    /// Which unit.
    pub unit: Unit,
    /// How many were held.
    pub amount: u64,
    /// The periods (with their keys and caps) the hold was counted in; a top-up counts in the
    /// same ones, under the same caps.
    pub periods: Vec<PeriodLimit>,
}

/// What became of a charge measured above its hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TopUp {
    /// Units charged on top of the hold (there was room under every cap).
    pub(super) charged: u64,
    /// Units not charged: the caps had no room for them.
    pub(super) forgiven: u64,
}

/// Most settlements waiting on the spawner at once; beyond it calls settle before answering,
/// so a database that falls behind slows callers down instead of piling up open holds.
pub(super) const MAX_PENDING_SETTLES: usize = 256;

/// Resolves when one pending settlement is over (as `Canceled`: its sender is dropped).
type SettleDone = Shared<oneshot::Receiver<()>>;

/// Settlements handed to the spawner and not yet written, by agent, so that the agent's own
/// usage reads and would-be refusals can wait for them: an agent never sees its answered
/// calls still held (within this process; other replicas see them within milliseconds).
#[derive(Default)]
pub(super) struct PendingSettles {
    next: AtomicU64,
    count: AtomicUsize,
    by_agent: Mutex<HashMap<String, HashMap<u64, SettleDone>>>,
}

/// One pending settlement; dropping it (written, failed, or never run) takes it off the list
/// and wakes whoever waits for it.
pub(super) struct PendingSettle {
    settles: Arc<PendingSettles>,
    agent_id: String,
    seq: u64,
    _done: oneshot::Sender<()>,
}

impl PendingSettles {
    /// Settlements pending, for every agent.
    pub(super) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Registers a settlement of `agent_id`'s about to be handed to the spawner.
    pub(super) fn begin(self: &Arc<Self>, agent_id: &str) -> PendingSettle {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let (done, wait) = oneshot::channel();
        self.by_agent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(agent_id.to_owned())
            .or_default()
            .insert(seq, wait.shared());
        self.count.fetch_add(1, Ordering::Relaxed);
        PendingSettle {
            settles: Arc::clone(self),
            agent_id: agent_id.to_owned(),
            seq,
            _done: done,
        }
    }

    /// Waits for the settlements of `agent_id` pending now (not for ones begun meanwhile).
    /// True when there were any.
    pub(super) async fn wait(&self, agent_id: &str) -> bool {
        let pending: Vec<_> = self
            .by_agent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(agent_id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        if pending.is_empty() {
            return false;
        }
        // Each resolves (as `Canceled`) when its settlement is dropped, done or not.
        futures::future::join_all(pending).await;
        true
    }
}

impl Drop for PendingSettle {
    fn drop(&mut self) {
        let mut by_agent = self
            .settles
            .by_agent
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(mine) = by_agent.get_mut(&self.agent_id) {
            mine.remove(&self.seq);
            if mine.is_empty() {
                by_agent.remove(&self.agent_id);
            }
        }
        self.settles.count.fetch_sub(1, Ordering::Relaxed);
    }
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
    /// Bytes of uploaded files kept, against the storage caps.
    pub storage: StorageReport,
}

/// An agent's uploaded bytes against its caps (`domain/storage.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StorageReport {
    /// Bytes of uploads the agent keeps.
    pub used_bytes: u64,
    /// Its tier's cap, or `"unlimited"`.
    pub limit: LimitValue,
    /// Bytes it may still upload: the smaller of what its own cap and its instance's cap
    /// leave, or `"unlimited"`.
    pub remaining: LimitValue,
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
        let id = self.inner.ports.ids.id("rsv");
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
        let mut outcome = self.inner.ports.stores.quota.reserve(&request).await?;
        // The agent's own answered calls may still be held at their estimate while their
        // settlements are on the way; with those written, ask once more.
        if matches!(outcome, ReserveOutcome::Exceeded { .. })
            && self.inner.settles.wait(&request.agent_id).await
        {
            outcome = self.inner.ports.stores.quota.reserve(&request).await?;
        }
        match outcome {
            ReserveOutcome::Reserved => Ok(Hold {
                reservation_id: request.reservation_id,
                agent_id: request.agent_id,
                unit,
                amount,
                periods: request.periods,
            }),
            ReserveOutcome::Exceeded { period, max, used } => Err(Error::new(
                ErrorKind::QuotaExceeded,
                format!(
                    "{} {unit} limit of {max} reached on tier '{}' ({used} used, {amount} asked)",
                    period.adjective(),
                    tier.id
                ),
            )
            .with_code(ErrorCode::QuotaExceeded)),
        }
    }

    /// Charges the measured amount for a hold. The hold is charged at most in full; a measured
    /// amount above it (a provider that reported more than the hold's bound) is charged only
    /// as far as a conditional top-up finds room under every cap, so settling can never move a
    /// counter past its limit. What did not fit is forgiven and logged.
    pub async fn settle(&self, hold: &Hold, actual: u64) -> Result<Reservation> {
        let reservation = self
            .inner
            .ports
            .stores
            .quota
            .settle(&hold.reservation_id, actual.min(hold.amount), self.now())
            .await?;
        if actual > hold.amount {
            let excess = actual - hold.amount;
            let top_up = self.top_up(hold, excess).await;
            if top_up.forgiven > 0 {
                tracing::warn!(
                    reservation = %hold.reservation_id,
                    unit = %hold.unit,
                    held = hold.amount,
                    measured = actual,
                    forgiven = top_up.forgiven,
                    "a call measured above its hold; the quota had no room for the rest"
                );
            }
        }
        Ok(reservation)
    }

    /// Charges `excess` units beyond a settled hold, in the hold's periods and under their caps:
    /// a reservation that the store grants only where every cap has room, settled at once. When
    /// the whole excess does not fit, the room the full period reported is tried once.
    pub(super) async fn top_up(&self, hold: &Hold, excess: u64) -> TopUp {
        let mut asked = excess;
        for _ in 0..2 {
            let now = self.now();
            let request = ReserveRequest {
                reservation_id: self.inner.ports.ids.id("rsv"),
                agent_id: hold.agent_id.clone(),
                unit: hold.unit,
                amount: asked,
                periods: hold.periods.clone(),
                at: now,
                expires_at: now + HOLD_TTL,
            };
            let outcome = match self.inner.ports.stores.quota.reserve(&request).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::error!(reservation = %hold.reservation_id, error = %e, "top-up failed");
                    break;
                }
            };
            match outcome {
                ReserveOutcome::Reserved => {
                    let settled = self
                        .inner
                        .ports
                        .stores
                        .quota
                        .settle(&request.reservation_id, asked, now)
                        .await;
                    if let Err(e) = settled {
                        // The top-up stays held and is charged as held when it expires.
                        tracing::error!(reservation = %request.reservation_id, error = %e, "top-up settle failed");
                    }
                    return TopUp {
                        charged: asked,
                        forgiven: excess - asked,
                    };
                }
                ReserveOutcome::Exceeded { max, used, .. } => {
                    let room = max.saturating_sub(used).min(asked);
                    if room == 0 || room == asked {
                        break;
                    }
                    asked = room;
                }
            }
        }
        TopUp {
            charged: 0,
            forgiven: excess,
        }
    }

    /// Gives a hold's units back.
    pub async fn refund(&self, hold: &Hold) -> Result<Reservation> {
        self.inner
            .ports
            .stores
            .quota
            .refund(&hold.reservation_id, self.now())
            .await
    }

    /// The caller's usage in the current day and month, against its tier.
    pub async fn usage(&self, principal: &AgentPrincipal) -> Result<UsageReport> {
        self.usage_for(&principal.agent.id, &principal.instance, &principal.tier)
            .await
    }

    pub(super) async fn usage_for(
        &self,
        agent_id: &str,
        instance: &Instance,
        tier: &Tier,
    ) -> Result<UsageReport> {
        // Calls already answered are reported settled, not held.
        self.inner.settles.wait(agent_id).await;
        let now = self.now();
        let (day, month) = (day_key(now), month_key(now));
        let counters = self
            .inner
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
        let limits = StorageLimits {
            agent: tier.storage_bytes.max(),
            instance: instance.settings.storage_bytes.max(),
        };
        let stored = self
            .inner
            .ports
            .stores
            .artifacts
            .storage_used(agent_id, &instance.id)
            .await?;
        let storage = StorageReport {
            used_bytes: stored.agent,
            limit: tier.storage_bytes,
            remaining: stored
                .room(limits)
                .map_or(LimitValue::Unlimited, LimitValue::Max),
        };
        Ok(UsageReport {
            tier: tier.id.clone(),
            day,
            month,
            units,
            storage,
        })
    }
}
