//! Tiers: what an agent may use per unit and period, and how fast it may call.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::Timestamp;

/// The units quotas are counted in: what people buy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// One generated video.
    Video,
    /// One generated image.
    Image,
    /// One second of generated speech.
    AudioSecond,
    /// One text token (prompt plus completion).
    TextToken,
    /// One stock media search.
    StockSearch,
    /// One rendered video edit.
    Render,
    /// One avatar persona made at a provider (a HeyGen talking photo, a Tavus replica).
    Persona,
}

impl Unit {
    /// Every unit, in display order.
    pub const ALL: [Unit; 7] = [
        Unit::Video,
        Unit::Image,
        Unit::AudioSecond,
        Unit::TextToken,
        Unit::StockSearch,
        Unit::Render,
        Unit::Persona,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Image => "image",
            Self::AudioSecond => "audio_second",
            Self::TextToken => "text_token",
            Self::StockSearch => "stock_search",
            Self::Render => "render",
            Self::Persona => "persona",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The periods limits apply to: UTC calendar days and months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A UTC calendar day.
    Day,
    /// A UTC calendar month.
    Month,
}

impl Period {
    /// Both periods.
    pub const ALL: [Period; 2] = [Period::Day, Period::Month];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    /// Adjective for messages ("daily", "monthly").
    pub fn adjective(self) -> &'static str {
        match self {
            Self::Day => "daily",
            Self::Month => "monthly",
        }
    }
}

/// A limit: a number of units, or explicitly unlimited. JSON: a number or `"unlimited"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// At most this many units per period.
    Max(u64),
    /// No limit.
    Unlimited,
}

impl LimitValue {
    /// The cap, if any.
    pub fn max(self) -> Option<u64> {
        match self {
            Self::Max(n) => Some(n),
            Self::Unlimited => None,
        }
    }
}

impl Serialize for LimitValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Max(n) => s.serialize_u64(*n),
            Self::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for LimitValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self::Max(n)),
            Raw::Word(w) if w == "unlimited" => Ok(Self::Unlimited),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected a non-negative integer or \"unlimited\", got \"{w}\""
            ))),
        }
    }
}

/// Limits per unit, then per period. A unit or period that is absent is not limited.
pub type TierLimits = BTreeMap<Unit, BTreeMap<Period, LimitValue>>;

/// A tier: limits and a request rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Slug (`free`, `pro`, `enterprise`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Limits per unit and period.
    #[serde(default)]
    pub limits: TierLimits,
    /// Requests per minute per agent (all its keys together); `None` means unlimited.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Bytes of uploaded files an agent may keep at once (`domain/storage.rs`); deleting a
    /// file gives its bytes back.
    #[serde(default = "crate::domain::tier::unlimited")]
    pub storage_bytes: LimitValue,
    /// When it was created (set by molts).
    #[serde(default = "crate::domain::tier::epoch")]
    pub created_at: Timestamp,
    /// When it last changed (set by molts).
    #[serde(default = "crate::domain::tier::epoch")]
    pub updated_at: Timestamp,
}

pub(crate) fn unlimited() -> LimitValue {
    LimitValue::Unlimited
}

pub(crate) fn epoch() -> Timestamp {
    Timestamp::default()
}

impl Tier {
    /// The cap for `unit` in `period`, `None` when unlimited.
    pub fn limit(&self, unit: Unit, period: Period) -> Option<u64> {
        self.limits
            .get(&unit)
            .and_then(|p| p.get(&period))
            .and_then(|v| v.max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_values_read_numbers_and_unlimited() -> Result<(), serde_json::Error> {
        let limits: TierLimits =
            serde_json::from_str(r#"{"video":{"month":10},"image":{"day":"unlimited"}}"#)?;
        assert_eq!(limits[&Unit::Video][&Period::Month], LimitValue::Max(10));
        assert_eq!(limits[&Unit::Image][&Period::Day], LimitValue::Unlimited);
        assert!(serde_json::from_str::<TierLimits>(r#"{"video":{"month":"lots"}}"#).is_err());
        assert!(serde_json::from_str::<TierLimits>(r#"{"video":{"month":-1}}"#).is_err());
        assert!(serde_json::from_str::<TierLimits>(r#"{"minutes":{"month":1}}"#).is_err());
        assert_eq!(
            serde_json::to_string(&limits)?,
            r#"{"video":{"month":10},"image":{"day":"unlimited"}}"#
        );
        Ok(())
    }
}
