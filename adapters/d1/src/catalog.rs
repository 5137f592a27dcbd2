//! `TierStore` and `ModelConfigStore` over D1: JSON fields as text, booleans as 0/1.

use async_trait::async_trait;
use molts_core::domain::{ModelConfig, ModelFilter, Tier};
use molts_core::ports::{ModelConfigStore, TierStore};
use molts_core::{Error, Result};

use crate::D1Store;
use crate::rows::{ModelRow, TierRow, all, cap_column, ms, to_json};
use crate::sql::{V, params};

const TIER_COLS: &str =
    "id, name, description, limits, requests_per_minute, created_at, updated_at, storage_bytes";

fn tier_params(t: &Tier) -> Result<Vec<V>> {
    Ok(params![
        &t.id,
        &t.name,
        &t.description,
        to_json(&t.limits)?,
        t.requests_per_minute.map(i64::from),
        ms(t.created_at),
        ms(t.updated_at),
        cap_column("storage_bytes", t.storage_bytes)?,
    ])
}

#[async_trait]
impl TierStore for D1Store {
    async fn insert_tier(&self, t: &Tier) -> Result<()> {
        let sql = format!("INSERT INTO tiers ({TIER_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)");
        self.db
            .run(&sql, tier_params(t)?, |_| {
                format!("tier '{}' already exists", t.id)
            })
            .await?;
        Ok(())
    }

    async fn get_tier(&self, id: &str) -> Result<Option<Tier>> {
        let sql = format!("SELECT {TIER_COLS} FROM tiers WHERE id = ?1");
        let row: Option<TierRow> = self.db.row(&sql, params![id]).await?;
        row.map(TierRow::into_domain).transpose()
    }

    async fn list_tiers(&self) -> Result<Vec<Tier>> {
        let sql = format!("SELECT {TIER_COLS} FROM tiers ORDER BY id");
        all(self.db.rows(&sql, params![]).await?, TierRow::into_domain)
    }

    async fn update_tier(&self, t: &Tier) -> Result<()> {
        let sql = "UPDATE tiers SET name = ?2, description = ?3, limits = ?4, \
                   requests_per_minute = ?5, created_at = ?6, updated_at = ?7, storage_bytes = ?8 \
                   WHERE id = ?1";
        let changed = self
            .db
            .run(sql, tier_params(t)?, |_| "tier conflict".to_owned())
            .await?;
        if changed == 0 {
            return Err(Error::not_found("tier", &t.id));
        }
        Ok(())
    }

    async fn delete_tier(&self, id: &str) -> Result<bool> {
        let changed = self
            .db
            .run("DELETE FROM tiers WHERE id = ?1", params![id], |_| {
                String::new()
            })
            .await?;
        Ok(changed > 0)
    }
}

const MODEL_COLS: &str = "id, provider, modality, provider_model, display_name, description, \
                          capabilities, pricing, status, enabled, payload_mapping, fallbacks, \
                          alias, weight, created_at, updated_at";

fn model_params(m: &ModelConfig) -> Result<Vec<V>> {
    Ok(params![
        &m.id,
        m.provider.as_str(),
        m.modality.as_str(),
        &m.provider_model,
        &m.display_name,
        &m.description,
        to_json(&m.capabilities)?,
        to_json(&m.pricing)?,
        m.status.as_str(),
        m.enabled,
        m.payload_mapping.as_ref().map(to_json).transpose()?,
        to_json(&m.fallbacks)?,
        m.alias.clone(),
        i64::from(m.weight),
        ms(m.created_at),
        ms(m.updated_at),
    ])
}

#[async_trait]
impl ModelConfigStore for D1Store {
    async fn insert_model(&self, m: &ModelConfig) -> Result<()> {
        let sql = format!(
            "INSERT INTO model_configs ({MODEL_COLS}) \
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"
        );
        self.db
            .run(&sql, model_params(m)?, |_| {
                format!("model '{}' already exists", m.id)
            })
            .await?;
        Ok(())
    }

    async fn get_model(&self, id: &str) -> Result<Option<ModelConfig>> {
        let sql = format!("SELECT {MODEL_COLS} FROM model_configs WHERE id = ?1");
        let row: Option<ModelRow> = self.db.row(&sql, params![id]).await?;
        row.map(ModelRow::into_domain).transpose()
    }

    async fn list_models(&self, f: &ModelFilter) -> Result<Vec<ModelConfig>> {
        let sql = format!(
            "SELECT {MODEL_COLS} FROM model_configs \
             WHERE (?1 IS NULL OR modality = ?1) AND (?2 IS NULL OR status = ?2) \
             AND (?3 IS NULL OR provider = ?3) AND (?4 = 0 OR enabled = 1) \
             AND (?5 IS NULL OR alias = ?5) ORDER BY id"
        );
        let values = params![
            f.modality.map(|m| m.as_str()),
            f.status.map(|s| s.as_str()),
            f.provider.map(|p| p.as_str()),
            f.enabled_only,
            f.alias.clone(),
        ];
        all(self.db.rows(&sql, values).await?, ModelRow::into_domain)
    }

    async fn update_model(&self, m: &ModelConfig) -> Result<()> {
        let sql = "UPDATE model_configs SET provider = ?2, modality = ?3, provider_model = ?4, \
                   display_name = ?5, description = ?6, capabilities = ?7, pricing = ?8, \
                   status = ?9, enabled = ?10, payload_mapping = ?11, fallbacks = ?12, \
                   alias = ?13, weight = ?14, created_at = ?15, updated_at = ?16 WHERE id = ?1";
        let changed = self
            .db
            .run(sql, model_params(m)?, |_| "model conflict".to_owned())
            .await?;
        if changed == 0 {
            return Err(Error::not_found("model", &m.id));
        }
        Ok(())
    }

    async fn delete_model(&self, id: &str) -> Result<bool> {
        let changed = self
            .db
            .run(
                "DELETE FROM model_configs WHERE id = ?1",
                params![id],
                |_| String::new(),
            )
            .await?;
        Ok(changed > 0)
    }
}
