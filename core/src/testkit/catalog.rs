//! Contract checks for tiers and model configs.

use serde_json::json;

use crate::domain::{LimitValue, Modality, ModelFilter, ModelStatus, Period, Provider, Unit};
use crate::error::{ErrorKind, Result};
use crate::ports::Stores;
use crate::seed;

use super::{now_ms, unique};

/// Tiers: limits (numbers and "unlimited") and rate round-trip; update and delete.
pub async fn tiers(stores: &Stores) -> Result<()> {
    let mut tier = seed::tiers().remove(0);
    tier.id = unique("tier").replace('_', "-");
    tier.created_at = now_ms();
    tier.updated_at = now_ms();
    tier.limits
        .entry(Unit::Image)
        .or_default()
        .insert(Period::Day, LimitValue::Unlimited);
    stores.tiers.insert_tier(&tier).await?;
    let dup = stores.tiers.insert_tier(&tier).await;
    assert_eq!(dup.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    assert_eq!(stores.tiers.get_tier(&tier.id).await?, Some(tier.clone()));
    tier.requests_per_minute = None;
    tier.limits.remove(&Unit::Video);
    stores.tiers.update_tier(&tier).await?;
    assert_eq!(stores.tiers.get_tier(&tier.id).await?, Some(tier.clone()));
    assert!(stores.tiers.list_tiers().await?.contains(&tier));
    assert!(stores.tiers.delete_tier(&tier.id).await?);
    assert_eq!(stores.tiers.get_tier(&tier.id).await?, None);
    Ok(())
}

/// Model configs: every field round-trips (JSON kept typed), filters by modality, status,
/// provider and enabled.
pub async fn models(stores: &Stores) -> Result<()> {
    let tag = unique("m").replace('_', "-");
    let mut text = seed::models().remove(0);
    text.id = format!("{tag}-text");
    text.provider = Provider::Template;
    text.payload_mapping = Some(json!({
        "endpoint": "https://api.test/v1/generate",
        "body": {"max_tokens": "{max_tokens}", "stream": false, "nested": [1, 2.5, null]},
        "defaults": {"max_tokens": 1000}
    }));
    text.pricing = json!({"usd_per_million_input_tokens": 1.25});
    text.fallbacks = vec!["gpt-4o-mini".to_owned()];
    text.alias = Some(format!("{tag}-alias"));
    text.weight = 3;
    text.created_at = now_ms();
    text.updated_at = now_ms();
    let mut image = seed::models().remove(4);
    image.id = format!("{tag}-image");
    image.status = ModelStatus::Deprecated;
    image.enabled = false;
    image.created_at = now_ms();
    image.updated_at = now_ms();

    stores.models.insert_model(&text).await?;
    stores.models.insert_model(&image).await?;
    let dup = stores.models.insert_model(&text).await;
    assert_eq!(dup.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    assert_eq!(stores.models.get_model(&text.id).await?, Some(text.clone()));

    let ours = |list: Vec<crate::domain::ModelConfig>| {
        list.into_iter()
            .filter(|m| m.id.starts_with(&tag))
            .map(|m| m.id)
            .collect::<Vec<_>>()
    };
    let by = |filter: ModelFilter| async move { stores.models.list_models(&filter).await };
    assert_eq!(
        ours(
            by(ModelFilter {
                modality: Some(Modality::Text),
                ..Default::default()
            })
            .await?
        ),
        vec![text.id.clone()]
    );
    assert_eq!(
        ours(
            by(ModelFilter {
                status: Some(ModelStatus::Deprecated),
                ..Default::default()
            })
            .await?
        ),
        vec![image.id.clone()]
    );
    assert_eq!(
        ours(
            by(ModelFilter {
                provider: Some(Provider::Template),
                ..Default::default()
            })
            .await?
        ),
        vec![text.id.clone()]
    );
    assert_eq!(
        ours(
            by(ModelFilter {
                enabled_only: true,
                ..Default::default()
            })
            .await?
        ),
        vec![text.id.clone()]
    );
    assert_eq!(ours(by(ModelFilter::default()).await?).len(), 2);
    assert_eq!(
        ours(
            by(ModelFilter {
                alias: Some(format!("{tag}-alias")),
                ..Default::default()
            })
            .await?
        ),
        vec![text.id.clone()]
    );

    image.enabled = true;
    image.display_name = "Renamed".to_owned();
    stores.models.update_model(&image).await?;
    assert_eq!(
        stores.models.get_model(&image.id).await?,
        Some(image.clone())
    );
    assert!(stores.models.delete_model(&image.id).await?);
    assert!(!stores.models.delete_model(&image.id).await?);
    let missing = stores.models.update_model(&image).await;
    assert_eq!(missing.err().map(|e| e.kind()), Some(ErrorKind::NotFound));
    Ok(())
}
