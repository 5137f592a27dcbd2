//! Model configs: what a request's `model` names, which provider serves it and how.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::Unit;

/// The providers molts can route to. A closed set: adding one is a code change with an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// OpenAI.
    Openai,
    /// Anthropic.
    Anthropic,
    /// Google Gemini and Veo.
    Gemini,
    /// Ideogram.
    Ideogram,
    /// ElevenLabs.
    Elevenlabs,
    /// HeyGen avatar videos.
    Heygen,
    /// Tavus avatar videos.
    Tavus,
    /// Pexels stock media.
    Pexels,
    /// Shotstack renders.
    Shotstack,
    /// Any server speaking OpenAI's API at a configured base URL.
    OpenaiCompatible,
    /// An HTTP provider described entirely by the config's payload mapping.
    Template,
    /// Built-in offline providers producing real files with no keys.
    Demo,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 12] = [
        Provider::Openai,
        Provider::Anthropic,
        Provider::Gemini,
        Provider::Ideogram,
        Provider::Elevenlabs,
        Provider::Heygen,
        Provider::Tavus,
        Provider::Pexels,
        Provider::Shotstack,
        Provider::OpenaiCompatible,
        Provider::Template,
        Provider::Demo,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Ideogram => "ideogram",
            Self::Elevenlabs => "elevenlabs",
            Self::Heygen => "heygen",
            Self::Tavus => "tavus",
            Self::Pexels => "pexels",
            Self::Shotstack => "shotstack",
            Self::OpenaiCompatible => "openai_compatible",
            Self::Template => "template",
            Self::Demo => "demo",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What kind of output a model makes. The seed's `?type=` filter reads this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Text and chat.
    Text,
    /// Images.
    Image,
    /// Speech audio.
    Speech,
    /// Generated (avatar or text-to-) video.
    Video,
    /// Stock photo and video search.
    Stock,
    /// Timeline renders.
    Render,
}

impl Modality {
    /// Every modality.
    pub const ALL: [Modality; 6] = [
        Modality::Text,
        Modality::Image,
        Modality::Speech,
        Modality::Video,
        Modality::Stock,
        Modality::Render,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Speech => "speech",
            Self::Video => "video",
            Self::Stock => "stock",
            Self::Render => "render",
        }
    }

    /// Parses the stored spelling; `audio` is accepted for `speech` as the seed's admin panel used it.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "audio" => Some(Self::Speech),
            _ => Self::ALL.into_iter().find(|m| m.as_str() == s),
        }
    }

    /// The quota unit this modality is charged in.
    pub fn unit(self) -> Unit {
        match self {
            Self::Text => Unit::TextToken,
            Self::Image => Unit::Image,
            Self::Speech => Unit::AudioSecond,
            Self::Video => Unit::Video,
            Self::Stock => Unit::StockSearch,
            Self::Render => Unit::Render,
        }
    }
}

/// A model config's lifecycle label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Generally available.
    Active,
    /// Usable, may change.
    Beta,
    /// Usable, going away.
    Deprecated,
}

impl ModelStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Beta => "beta",
            Self::Deprecated => "deprecated",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "beta" => Some(Self::Beta),
            "deprecated" => Some(Self::Deprecated),
            _ => None,
        }
    }
}

/// A model config, kept in the database and changed at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// What requests name in `model` (`gpt-4o`, `demo-image`).
    pub id: String,
    /// Who serves it.
    pub provider: Provider,
    /// What it makes.
    pub modality: Modality,
    /// The provider's own model name (`gpt-4o-2024-08-06`, `V_2`).
    pub provider_model: String,
    /// Human name.
    pub display_name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Capability tags (`streaming`, `vision`, ...).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Pricing per unit, free-form JSON object (`{"usd_per_unit": 0.04}`); informational.
    #[serde(default = "empty_object")]
    pub pricing: serde_json::Value,
    /// Lifecycle label.
    #[serde(default = "default_status")]
    pub status: ModelStatus,
    /// Disabled models are hidden and refused.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How to call a template provider (validated by the providers layer).
    #[serde(default)]
    pub payload_mapping: Option<serde_json::Value>,
    /// Config ids to try, in order, when this one's provider fails.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// A name several configs share: a request naming it is balanced across them by `weight`,
    /// the others serving as fallbacks.
    #[serde(default)]
    pub alias: Option<String>,
    /// Share of the alias's traffic (0 = only as a fallback).
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// When it was created (set by molts).
    #[serde(default = "crate::domain::tier::epoch")]
    pub created_at: Timestamp,
    /// When it last changed (set by molts).
    #[serde(default = "crate::domain::tier::epoch")]
    pub updated_at: Timestamp,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn default_status() -> ModelStatus {
    ModelStatus::Active
}

fn default_true() -> bool {
    true
}

fn default_weight() -> u32 {
    1
}

/// Filters for listing model configs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelFilter {
    /// Only this modality.
    pub modality: Option<Modality>,
    /// Only this status.
    pub status: Option<ModelStatus>,
    /// Only this provider.
    pub provider: Option<Provider>,
    /// Only enabled configs.
    pub enabled_only: bool,
    /// Only configs sharing this alias.
    pub alias: Option<String>,
}

impl ModelFilter {
    /// Whether `m` passes the filter.
    pub fn matches(&self, m: &ModelConfig) -> bool {
        self.modality.is_none_or(|x| x == m.modality)
            && self.status.is_none_or(|x| x == m.status)
            && self.provider.is_none_or(|x| x == m.provider)
            && (!self.enabled_only || m.enabled)
            && self
                .alias
                .as_ref()
                .is_none_or(|a| m.alias.as_ref() == Some(a))
    }
}
