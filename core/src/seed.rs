//! What a fresh molts starts with: the free, pro and enterprise tiers, the predecessor's ten
//! model configs, and the offline `demo` models that work with no provider keys.

use std::collections::BTreeMap;

use serde_json::json;

use crate::domain::{
    LimitValue, Modality, ModelConfig, ModelStatus, Period, Provider, Tier, TierLimits, Unit,
};

fn limits(rows: &[(Unit, Period, LimitValue)]) -> TierLimits {
    let mut out: TierLimits = BTreeMap::new();
    for (unit, period, value) in rows {
        out.entry(*unit).or_default().insert(*period, *value);
    }
    out
}

/// A gibibyte, for the seeded tiers' storage caps.
const GIB: u64 = 1024 * 1024 * 1024;

/// The seeded tiers. Free keeps the predecessor's 10 videos a month.
pub fn tiers() -> Vec<Tier> {
    use LimitValue::{Max, Unlimited};
    use Period::{Day, Month};
    use Unit::*;
    let tier = |id: &str,
                name: &str,
                description: &str,
                rpm,
                storage_bytes,
                rows: &[(Unit, Period, LimitValue)]| Tier {
        id: id.to_owned(),
        name: name.to_owned(),
        description: description.to_owned(),
        limits: limits(rows),
        requests_per_minute: rpm,
        storage_bytes,
        created_at: Default::default(),
        updated_at: Default::default(),
    };
    vec![
        tier(
            "free",
            "Free",
            "10 videos a month and modest allowances for everything else.",
            Some(60),
            Max(GIB),
            &[
                (Video, Month, Max(10)),
                (Image, Day, Max(20)),
                (Image, Month, Max(100)),
                (AudioSecond, Month, Max(600)),
                (TextToken, Day, Max(50_000)),
                (TextToken, Month, Max(500_000)),
                (StockSearch, Day, Max(200)),
                (Render, Month, Max(5)),
                (Persona, Month, Max(2)),
            ],
        ),
        tier(
            "pro",
            "Pro",
            "Unlimited videos; generous allowances for everything else.",
            Some(600),
            Max(50 * GIB),
            &[
                (Video, Month, Unlimited),
                (Image, Month, Max(2_000)),
                (AudioSecond, Month, Max(36_000)),
                (TextToken, Month, Max(10_000_000)),
                (StockSearch, Day, Max(5_000)),
                (Render, Month, Max(200)),
                (Persona, Month, Max(20)),
            ],
        ),
        tier(
            "enterprise",
            "Enterprise",
            "No limits on units; custom terms.",
            Some(3_000),
            Unlimited,
            &[
                (Video, Month, Unlimited),
                (Image, Month, Unlimited),
                (AudioSecond, Month, Unlimited),
                (TextToken, Month, Unlimited),
                (StockSearch, Month, Unlimited),
                (Render, Month, Unlimited),
                (Persona, Month, Unlimited),
            ],
        ),
    ]
}

struct Seed {
    id: &'static str,
    provider: Provider,
    modality: Modality,
    provider_model: &'static str,
    display_name: &'static str,
    capabilities: &'static [&'static str],
    pricing: serde_json::Value,
    status: ModelStatus,
}

/// The seeded model configs: the predecessor's ten, then the offline demo models.
pub fn models() -> Vec<ModelConfig> {
    use Modality::*;
    use ModelStatus::{Active, Beta};
    use Provider::*;
    let seeds = [
        Seed {
            id: "claude-3-5-sonnet",
            provider: Anthropic,
            modality: Text,
            provider_model: "claude-3-5-sonnet-20241022",
            display_name: "Claude 3.5 Sonnet",
            capabilities: &["chat", "streaming", "vision"],
            pricing: json!({"usd_per_million_input_tokens": 3.0, "usd_per_million_output_tokens": 15.0}),
            status: Active,
        },
        Seed {
            id: "claude-3-5-haiku",
            provider: Anthropic,
            modality: Text,
            provider_model: "claude-3-5-haiku-20241022",
            display_name: "Claude 3.5 Haiku",
            capabilities: &["chat", "streaming"],
            pricing: json!({"usd_per_million_input_tokens": 0.8, "usd_per_million_output_tokens": 4.0}),
            status: Active,
        },
        Seed {
            id: "gpt-4o",
            provider: Openai,
            modality: Text,
            provider_model: "gpt-4o",
            display_name: "GPT-4o",
            capabilities: &["chat", "streaming", "vision", "tools"],
            pricing: json!({"usd_per_million_input_tokens": 2.5, "usd_per_million_output_tokens": 10.0}),
            status: Active,
        },
        Seed {
            id: "gpt-4o-mini",
            provider: Openai,
            modality: Text,
            provider_model: "gpt-4o-mini",
            display_name: "GPT-4o mini",
            capabilities: &["chat", "streaming", "vision", "tools"],
            pricing: json!({"usd_per_million_input_tokens": 0.15, "usd_per_million_output_tokens": 0.6}),
            status: Active,
        },
        Seed {
            id: "dall-e-3",
            provider: Openai,
            modality: Image,
            provider_model: "dall-e-3",
            display_name: "DALL-E 3",
            capabilities: &["text-to-image"],
            pricing: json!({"usd_per_image": 0.04}),
            status: Active,
        },
        Seed {
            id: "dall-e-2",
            provider: Openai,
            modality: Image,
            provider_model: "dall-e-2",
            display_name: "DALL-E 2",
            capabilities: &["text-to-image"],
            pricing: json!({"usd_per_image": 0.02}),
            status: Active,
        },
        Seed {
            id: "ideogram-v2",
            provider: Ideogram,
            modality: Image,
            provider_model: "V_2",
            display_name: "Ideogram V2",
            capabilities: &["text-to-image", "typography"],
            pricing: json!({"usd_per_image": 0.08}),
            status: Active,
        },
        Seed {
            id: "ideogram-v3",
            provider: Ideogram,
            modality: Image,
            provider_model: "V_3",
            display_name: "Ideogram 3.0",
            capabilities: &["text-to-image", "typography"],
            pricing: json!({"usd_per_image": 0.06}),
            status: Active,
        },
        Seed {
            id: "heygen-avatar",
            provider: Heygen,
            modality: Video,
            provider_model: "heygen-v2",
            display_name: "HeyGen avatar video",
            capabilities: &["avatar-video", "talking-photo"],
            pricing: json!({"usd_per_minute": 1.0}),
            status: Active,
        },
        Seed {
            id: "tavus-replica",
            provider: Tavus,
            modality: Video,
            provider_model: "tavus-v2",
            display_name: "Tavus replica video",
            capabilities: &["avatar-video", "replica"],
            pricing: json!({"usd_per_minute": 1.0}),
            status: Active,
        },
        Seed {
            id: "shotstack-render",
            provider: Shotstack,
            modality: Render,
            provider_model: "shotstack-v1",
            display_name: "Shotstack timeline render",
            capabilities: &["timeline"],
            pricing: json!({"usd_per_minute": 0.4}),
            status: Active,
        },
        Seed {
            id: "pexels",
            provider: Pexels,
            modality: Stock,
            provider_model: "pexels-v1",
            display_name: "Pexels photos and videos",
            capabilities: &["photos", "videos"],
            pricing: json!({}),
            status: Active,
        },
        Seed {
            id: "veo-3.1",
            provider: Gemini,
            modality: Video,
            provider_model: "veo-3.1-generate-preview",
            display_name: "Veo 3.1",
            capabilities: &["text-to-video"],
            pricing: json!({"usd_per_second": 0.4}),
            status: Beta,
        },
        Seed {
            id: "nano-banana",
            provider: Gemini,
            modality: Image,
            provider_model: "gemini-2.5-flash-image",
            display_name: "Flash Nano Banana",
            capabilities: &["text-to-image", "image-editing"],
            pricing: json!({"usd_per_image": 0.039}),
            status: Active,
        },
        Seed {
            id: "eleven-multilingual-v2",
            provider: Elevenlabs,
            modality: Speech,
            provider_model: "eleven_multilingual_v2",
            display_name: "ElevenLabs Multilingual V2",
            capabilities: &["text-to-speech", "multilingual"],
            pricing: json!({"usd_per_thousand_characters": 0.3}),
            status: Active,
        },
        Seed {
            id: "demo-text",
            provider: Demo,
            modality: Text,
            provider_model: "demo-text",
            display_name: "Demo text (offline)",
            capabilities: &["chat", "streaming"],
            pricing: json!({}),
            status: Active,
        },
        Seed {
            id: "demo-image",
            provider: Demo,
            modality: Image,
            provider_model: "demo-image",
            display_name: "Demo image (offline)",
            capabilities: &["text-to-image"],
            pricing: json!({}),
            status: Active,
        },
        Seed {
            id: "demo-speech",
            provider: Demo,
            modality: Speech,
            provider_model: "demo-speech",
            display_name: "Demo speech (offline)",
            capabilities: &["text-to-speech"],
            pricing: json!({}),
            status: Active,
        },
        Seed {
            id: "demo-video",
            provider: Demo,
            modality: Video,
            provider_model: "demo-video",
            display_name: "Demo avatar video (offline)",
            capabilities: &["avatar-video"],
            pricing: json!({}),
            status: Active,
        },
        Seed {
            id: "demo-stock",
            provider: Demo,
            modality: Stock,
            provider_model: "demo-stock",
            display_name: "Demo stock search (offline)",
            capabilities: &["photos", "videos"],
            pricing: json!({}),
            status: Active,
        },
        Seed {
            id: "demo-render",
            provider: Demo,
            modality: Render,
            provider_model: "demo-render",
            display_name: "Demo render (offline)",
            capabilities: &["timeline"],
            pricing: json!({}),
            status: Active,
        },
    ];
    seeds
        .into_iter()
        .map(|s| ModelConfig {
            id: s.id.to_owned(),
            provider: s.provider,
            modality: s.modality,
            provider_model: s.provider_model.to_owned(),
            display_name: s.display_name.to_owned(),
            description: String::new(),
            capabilities: s.capabilities.iter().map(|c| (*c).to_owned()).collect(),
            pricing: s.pricing,
            status: s.status,
            enabled: true,
            payload_mapping: None,
            fallbacks: Vec::new(),
            alias: None,
            weight: 1,
            created_at: Default::default(),
            updated_at: Default::default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_hold_the_predecessors_models_and_free_tier() {
        let models = models();
        assert_eq!(
            models
                .iter()
                .filter(|m| m.provider != Provider::Demo)
                .count(),
            15
        );
        // Every provider molts speaks has a seeded model, so a key is all it takes.
        // (A compatible server, a template and the demo have no single model to seed.)
        let seedable = Provider::ALL.into_iter().filter(|p| {
            !matches!(
                p,
                Provider::OpenaiCompatible | Provider::Template | Provider::Demo
            )
        });
        for provider in seedable {
            assert!(
                models.iter().any(|m| m.provider == provider),
                "no seeded model for {provider:?}"
            );
        }
        assert_eq!(
            models
                .iter()
                .filter(|m| m.provider == Provider::Demo)
                .count(),
            6
        );
        let free = tiers().into_iter().find(|t| t.id == "free");
        assert_eq!(
            free.and_then(|t| t.limit(Unit::Video, Period::Month)),
            Some(10)
        );
        let pro = tiers().into_iter().find(|t| t.id == "pro");
        assert_eq!(pro.and_then(|t| t.limit(Unit::Video, Period::Month)), None);
    }
}
