//! First-start work, safe to repeat on every start and on every replica: seed the tiers and model
//! configs into an empty catalogue, create the default instance if missing, and make sure an
//! operator admin key exists.

use crate::domain::{
    AdminScope, Instance, InstanceSettings, LimitValue, ModelFilter, RegistrationMode,
};
use crate::error::{ErrorKind, Result};
use crate::{secret, seed};

use super::Gateway;

/// What bootstrapping did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapReport {
    /// Seeded rows that were missing and are now present.
    pub seeded: usize,
    /// A newly generated operator admin token, to print once. `None` if one existed or was given.
    pub generated_admin_token: Option<String>,
    /// The given admin token was revoked earlier and stays revoked.
    pub admin_token_revoked: bool,
}

/// The name of the admin key made from `MOLTS_ADMIN_TOKEN`.
const ENV_TOKEN_NAME: &str = "MOLTS_ADMIN_TOKEN";

/// Inserts, treating "already there" as success: another replica may have seeded first.
fn inserted(result: Result<()>) -> Result<usize> {
    match result {
        Ok(()) => Ok(1),
        Err(e) if e.kind() == ErrorKind::Conflict => Ok(0),
        Err(e) => Err(e),
    }
}

impl Gateway {
    /// Seeds what is missing and ensures an operator key. With `admin_token` (from
    /// `MOLTS_ADMIN_TOKEN`), that token becomes a valid operator key; without one, a token is
    /// generated only when no live operator key exists.
    pub async fn bootstrap(&self, admin_token: Option<&str>) -> Result<BootstrapReport> {
        let now = self.now();
        let stores = &self.inner.ports.stores;
        let mut report = BootstrapReport::default();
        // Seed only an empty catalogue: a tier or model the operator deleted stays deleted.
        if stores.tiers.list_tiers().await?.is_empty() {
            for mut tier in seed::tiers() {
                tier.created_at = now;
                tier.updated_at = now;
                report.seeded += inserted(stores.tiers.insert_tier(&tier).await)?;
            }
        }
        if stores
            .models
            .list_models(&ModelFilter::default())
            .await?
            .is_empty()
        {
            for mut model in seed::models() {
                model.created_at = now;
                model.updated_at = now;
                report.seeded += inserted(stores.models.insert_model(&model).await)?;
            }
        }
        let default_id = self.inner.config.default_instance.clone();
        if stores.instances.get_instance(&default_id).await?.is_none() {
            let instance = Instance {
                id: default_id,
                name: "Default".to_owned(),
                settings: InstanceSettings {
                    registration: RegistrationMode::Open,
                    registration_token_hash: None,
                    default_tier: "free".to_owned(),
                    allowed_models: None,
                    storage_bytes: LimitValue::Unlimited,
                },
                created_at: now,
                updated_at: now,
            };
            report.seeded += inserted(stores.instances.insert_instance(&instance).await)?;
        }

        match admin_token {
            Some(token) => {
                let stored = secret::chosen(token)?;
                let same = stores
                    .admin_keys
                    .find_admin_keys_by_prefix(&stored.prefix)
                    .await?
                    .into_iter()
                    .find(|k| k.hash == stored.hash);
                match same {
                    Some(key) if key.is_usable(now) => {}
                    // Revoked on purpose: setting the variable again must not bring it back.
                    Some(_) => report.admin_token_revoked = true,
                    None => {
                        let key = self
                            .insert_admin_key(
                                AdminScope::Operator,
                                false,
                                ENV_TOKEN_NAME,
                                None,
                                stored,
                            )
                            .await?;
                        // A changed MOLTS_ADMIN_TOKEN replaces the previous one.
                        for old in stores.admin_keys.list_admin_keys().await? {
                            if old.name == ENV_TOKEN_NAME && old.id != key.id && old.is_usable(now)
                            {
                                stores.admin_keys.revoke_admin_key(&old.id, now).await?;
                            }
                        }
                    }
                }
            }
            None => {
                let any_operator =
                    stores.admin_keys.list_admin_keys().await?.iter().any(|k| {
                        k.scope == AdminScope::Operator && !k.read_only && k.is_usable(now)
                    });
                if !any_operator {
                    let fresh = secret::generate(self.inner.ports.ids.as_ref(), "mla")?;
                    self.insert_admin_key(
                        AdminScope::Operator,
                        false,
                        "generated at first start",
                        None,
                        fresh.stored,
                    )
                    .await?;
                    report.generated_admin_token = Some(fresh.clear);
                }
            }
        }
        self.invalidate_caches();
        Ok(report)
    }
}
