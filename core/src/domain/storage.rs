//! Storage: the bytes of the files agents upload, counted per agent and per instance so that
//! neither can grow without a bound.
//!
//! Storage is a level, not a flow: what counts is what is kept now, and deleting a file gives
//! its bytes back. So its limits are not a `Unit`×`Period` cell of a tier (no calendar period
//! fits) but a tier's `storage_bytes` (per agent) and an instance's `storage_bytes` (the sum over
//! its agents), both checked in the same atomic step that records an upload. Generated outputs
//! are bounded instead by the generation quotas and by artifact retention, and do not count.

use serde::Serialize;

/// Whose storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageScope {
    /// One agent's uploads.
    Agent,
    /// Every upload of an instance's agents.
    Instance,
}

impl StorageScope {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Instance => "instance",
        }
    }
}

/// The caps an upload must fit under; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageLimits {
    /// Bytes the agent may keep (its tier's `storage_bytes`).
    pub agent: Option<u64>,
    /// Bytes the instance's agents may keep together (the instance's `storage_bytes`).
    pub instance: Option<u64>,
}

impl StorageLimits {
    /// No cap at all.
    pub const NONE: Self = Self {
        agent: None,
        instance: None,
    };

    /// The cap for one scope.
    pub fn of(self, scope: StorageScope) -> Option<u64> {
        match scope {
            StorageScope::Agent => self.agent,
            StorageScope::Instance => self.instance,
        }
    }
}

/// Bytes kept now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StorageUsed {
    /// By the agent.
    pub agent: u64,
    /// By its whole instance.
    pub instance: u64,
}

impl StorageUsed {
    /// The bytes kept in one scope.
    pub fn of(self, scope: StorageScope) -> u64 {
        match scope {
            StorageScope::Agent => self.agent,
            StorageScope::Instance => self.instance,
        }
    }

    /// Bytes that still fit under `limits` (`None`: no cap). The smaller room decides.
    pub fn room(self, limits: StorageLimits) -> Option<u64> {
        [StorageScope::Agent, StorageScope::Instance]
            .into_iter()
            .filter_map(|scope| {
                limits
                    .of(scope)
                    .map(|max| max.saturating_sub(self.of(scope)))
            })
            .min()
    }

    /// The first scope `size` more bytes would take past its cap, with that cap.
    pub fn exceeded_by(self, size: u64, limits: StorageLimits) -> Option<(StorageScope, u64)> {
        [StorageScope::Agent, StorageScope::Instance]
            .into_iter()
            .find_map(|scope| {
                limits
                    .of(scope)
                    .filter(|max| self.of(scope).saturating_add(size) > *max)
                    .map(|max| (scope, max))
            })
    }
}

/// The answer to recording an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageOutcome {
    /// Recorded, and its bytes counted.
    Stored,
    /// A scope had no room; nothing was recorded or counted.
    Exceeded {
        /// The scope that was full.
        scope: StorageScope,
        /// Its cap.
        max: u64,
        /// Bytes it kept already.
        used: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smaller_room_decides_and_the_agent_is_named_first() {
        let used = StorageUsed {
            agent: 70,
            instance: 900,
        };
        let both = StorageLimits {
            agent: Some(100),
            instance: Some(1000),
        };
        assert_eq!(used.room(both), Some(30));
        assert_eq!(used.room(StorageLimits::NONE), None);
        assert_eq!(
            used.room(StorageLimits {
                agent: None,
                instance: Some(920)
            }),
            Some(20)
        );
        assert_eq!(used.exceeded_by(30, both), None);
        assert_eq!(used.exceeded_by(31, both), Some((StorageScope::Agent, 100)));
        assert_eq!(
            used.exceeded_by(101, both),
            Some((StorageScope::Agent, 100))
        );
        let instance_only = StorageLimits {
            agent: Some(10_000),
            instance: Some(1000),
        };
        assert_eq!(
            used.exceeded_by(101, instance_only),
            Some((StorageScope::Instance, 1000))
        );
        // Already past a lowered cap: no room, never an underflow.
        let lowered = StorageLimits {
            agent: Some(50),
            instance: None,
        };
        assert_eq!(used.room(lowered), Some(0));
        assert_eq!(used.exceeded_by(u64::MAX, StorageLimits::NONE), None);
    }
}
