//! The quota ledger's records: reservations and per-period usage counters.
//!
//! A request reserves an estimate before the work, then settles with the measured amount or is
//! refunded. Counters include what is reserved, so concurrent reservations can never together pass
//! a limit; settling may record more than was reserved (the work is already done), which then
//! blocks further reservations until the period rolls over.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::domain::{Period, Unit};
use crate::ids::id_floor;

/// The prefixes reservation ids are made with: a durable job holds under its own id (`job_…`),
/// every other hold under a fresh `rsv_…`. Both are `Ids` ids, so they sort by creation time.
pub const RESERVATION_ID_PREFIXES: [&str; 2] = ["job", "rsv"];

/// The id ranges, `low <= id < high`, that hold every reservation made before `at`: one per
/// prefix of [`RESERVATION_ID_PREFIXES`], in order. Each is a range of the primary key, so a
/// store can walk its oldest reservations in id order without an index on time.
pub fn reservation_ids_before(at: Timestamp) -> [(String, String); 2] {
    RESERVATION_ID_PREFIXES.map(|prefix| (format!("{prefix}_"), id_floor(prefix, at)))
}

/// One period's cap for a reservation, with the counter key it lands in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodLimit {
    /// Day or month.
    pub period: Period,
    /// The counter key (`2026-11-24`, `2026-11`).
    pub key: String,
    /// The cap, `None` when unlimited (the counter is still kept, for reporting).
    pub max: Option<u64>,
}

/// What `QuotaStore::reserve` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReserveRequest {
    /// The new reservation's id (`rsv_…`).
    pub reservation_id: String,
    /// Whose quota.
    pub agent_id: String,
    /// Which unit.
    pub unit: Unit,
    /// How many units to hold.
    pub amount: u64,
    /// One entry per period; all must have room or nothing is reserved.
    pub periods: Vec<PeriodLimit>,
    /// When.
    pub at: Timestamp,
    /// When a hold never settled or refunded is closed by the scheduled work (charged as held).
    pub expires_at: Timestamp,
}

/// The answer to a reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// The units are held.
    Reserved,
    /// A period had no room; nothing was held.
    Exceeded {
        /// The period that was full.
        period: Period,
        /// Its cap.
        max: u64,
        /// Units already used or held in it.
        used: u64,
    },
}

/// Where a reservation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    /// Units held, work in progress.
    Reserved,
    /// Work done; the counter holds the measured amount.
    Settled,
    /// Work failed; the units were given back.
    Refunded,
}

impl ReservationState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::Settled => "settled",
            Self::Refunded => "refunded",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reserved" => Some(Self::Reserved),
            "settled" => Some(Self::Settled),
            "refunded" => Some(Self::Refunded),
            _ => None,
        }
    }
}

/// A reservation, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reservation {
    /// `rsv_…`
    pub id: String,
    /// Whose quota.
    pub agent_id: String,
    /// Which unit.
    pub unit: Unit,
    /// Units held at reservation.
    pub reserved: u64,
    /// Units finally charged (after settle; 0 after refund).
    pub charged: Option<u64>,
    /// Its state.
    pub state: ReservationState,
    /// The day counter it touched.
    pub day_key: String,
    /// The month counter it touched.
    pub month_key: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was settled or refunded.
    pub closed_at: Option<Timestamp>,
    /// When an open hold is swept by the scheduled work.
    pub expires_at: Timestamp,
}

impl Reservation {
    /// Whether `QuotaStore::forget_closed_reservations(before, _)` forgets it: closed (never an
    /// open hold), closed before `before`, and with an id in [`reservation_ids_before`]`(before)`.
    pub fn forgotten_before(&self, before: Timestamp) -> bool {
        self.state != ReservationState::Reserved
            && self.closed_at.is_some_and(|at| at < before)
            && reservation_ids_before(before)
                .iter()
                .any(|(low, high)| low.as_str() <= self.id.as_str() && self.id < *high)
    }
}

/// Units used (settled plus held) by an agent in one unit and period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageCounter {
    /// Which unit.
    pub unit: Unit,
    /// Day or month.
    pub period: Period,
    /// The counter key.
    pub key: String,
    /// Units used or held.
    pub used: u64,
}
