//! First-start work, safe to repeat on every start and on every replica: seed tiers, model
//! configs and the default instance where missing, and make sure an operator admin key exists.

use crate::domain::{AdminScope, Instance, InstanceSettings, RegistrationMode};
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
}

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
        let stores = &self.ports.stores;
        let mut report = BootstrapReport::default();
        for mut tier in seed::tiers() {
            if stores.tiers.get_tier(&tier.id).await?.is_none() {
                tier.created_at = now;
                tier.updated_at = now;
                report.seeded += inserted(stores.tiers.insert_tier(&tier).await)?;
            }
        }
        for mut model in seed::models() {
            if stores.models.get_model(&model.id).await?.is_none() {
                model.created_at = now;
                model.updated_at = now;
                report.seeded += inserted(stores.models.insert_model(&model).await)?;
            }
        }
        let default_id = self.config.default_instance.clone();
        if stores.instances.get_instance(&default_id).await?.is_none() {
            let instance = Instance {
                id: default_id,
                name: "Default".to_owned(),
                settings: InstanceSettings {
                    registration: RegistrationMode::Open,
                    registration_token_hash: None,
                    default_tier: "free".to_owned(),
                    allowed_models: None,
                },
                created_at: now,
                updated_at: now,
            };
            report.seeded += inserted(stores.instances.insert_instance(&instance).await)?;
        }

        match admin_token {
            Some(token) => {
                let stored = secret::chosen(token)?;
                let known = stores
                    .admin_keys
                    .find_admin_keys_by_prefix(&stored.prefix)
                    .await?
                    .into_iter()
                    .any(|k| k.hash == stored.hash && k.is_usable(now));
                if !known {
                    self.insert_admin_key(
                        AdminScope::Operator,
                        false,
                        "MOLTS_ADMIN_TOKEN",
                        None,
                        stored,
                    )
                    .await?;
                }
            }
            None => {
                let any_operator =
                    stores.admin_keys.list_admin_keys().await?.iter().any(|k| {
                        k.scope == AdminScope::Operator && !k.read_only && k.is_usable(now)
                    });
                if !any_operator {
                    let fresh = secret::generate(self.ports.ids.as_ref(), "mla")?;
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
        Ok(report)
    }
}
