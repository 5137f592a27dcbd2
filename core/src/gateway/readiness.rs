//! Readiness: whether this molts can serve, checked against what it depends on — the store (one
//! real read) and the blob store (one read of a key that never exists: "not found" proves it
//! answers) — each within a few seconds, so a hung dependency reads as down instead of hanging
//! the probe.

use std::time::Duration;

use serde::Serialize;

use crate::error::ErrorKind;

use super::Gateway;

/// How long each dependency has to answer.
const CHECK_DEADLINE: Duration = Duration::from_secs(5);

/// The key the blob store is asked for; nothing is ever stored under it.
const PROBE_KEY: &str = "readiness/probe";

/// One dependency's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "error")]
pub enum Check {
    /// It answered.
    Ok,
    /// It did not, for this reason (client-safe).
    Down(String),
    /// This molts runs without it.
    NotConfigured,
}

impl Check {
    /// Whether the dependency keeps molts from serving.
    pub fn is_down(&self) -> bool {
        matches!(self, Self::Down(_))
    }
}

/// What `GET /health/ready` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// The database.
    pub store: Check,
    /// The artifacts store.
    pub blobs: Check,
}

impl Readiness {
    /// Whether every dependency answered.
    pub fn is_ready(&self) -> bool {
        !self.store.is_down() && !self.blobs.is_down()
    }

    /// The dependencies that are down, by name.
    pub fn down(&self) -> Vec<&'static str> {
        [("store", &self.store), ("blobs", &self.blobs)]
            .into_iter()
            .filter(|(_, c)| c.is_down())
            .map(|(name, _)| name)
            .collect()
    }
}

impl Gateway {
    /// Checks the store and the blob store, each within a deadline.
    pub async fn readiness(&self) -> Readiness {
        let store = self.within(CHECK_DEADLINE, "the store's readiness check", async {
            self.inner
                .ports
                .stores
                .tiers
                .get_tier("free")
                .await
                .map(|_| ())
        });
        let store = match store.await {
            Ok(()) => Check::Ok,
            Err(e) => Check::Down(e.message().to_owned()),
        };
        let blobs = match &self.inner.blobs {
            None => Check::NotConfigured,
            Some(blobs) => {
                let probe =
                    self.within(CHECK_DEADLINE, "the blob store's readiness check", async {
                        blobs.get(PROBE_KEY, None).await.map(|_| ())
                    });
                match probe.await {
                    Ok(()) => Check::Ok,
                    Err(e) if e.kind() == ErrorKind::NotFound => Check::Ok,
                    Err(e) => Check::Down(e.message().to_owned()),
                }
            }
        };
        Readiness { store, blobs }
    }
}
