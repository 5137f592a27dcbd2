//! `ApiKeyStore`, `AdminKeyStore` and `ProviderKeyStore` over D1. Revocation is one conditional
//! `UPDATE … WHERE revoked_at IS NULL`, so revoking twice reports `false` the second time.

use async_trait::async_trait;
use molts_core::domain::{AdminKey, ApiKey, InstanceProviderKey, Provider};
use molts_core::ports::{AdminKeyStore, ApiKeyStore, ProviderKeyStore};
use molts_core::{Result, Timestamp};

use crate::D1Store;
use crate::rows::{AdminKeyRow, ApiKeyRow, ProviderKeyRow, all, ms};
use crate::sql::params;

const API_KEY_COLS: &str =
    "id, agent_id, instance_id, name, prefix, hash, created_at, expires_at, revoked_at";

#[async_trait]
impl ApiKeyStore for D1Store {
    async fn insert_api_key(&self, k: &ApiKey) -> Result<()> {
        let sql =
            format!("INSERT INTO api_keys ({API_KEY_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)");
        let values = params![
            &k.id,
            &k.agent_id,
            &k.instance_id,
            &k.name,
            &k.prefix,
            &k.hash,
            ms(k.created_at),
            k.expires_at.map(ms),
            k.revoked_at.map(ms),
        ];
        self.db
            .run(&sql, values, |_| format!("key '{}' already exists", k.id))
            .await?;
        Ok(())
    }

    async fn find_api_keys_by_prefix(&self, prefix: &str) -> Result<Vec<ApiKey>> {
        let sql = format!("SELECT {API_KEY_COLS} FROM api_keys WHERE prefix = ?1 ORDER BY id");
        all(
            self.db.rows(&sql, params![prefix]).await?,
            ApiKeyRow::into_domain,
        )
    }

    async fn list_api_keys(&self, agent_id: &str) -> Result<Vec<ApiKey>> {
        let sql = format!("SELECT {API_KEY_COLS} FROM api_keys WHERE agent_id = ?1 ORDER BY id");
        all(
            self.db.rows(&sql, params![agent_id]).await?,
            ApiKeyRow::into_domain,
        )
    }

    async fn revoke_api_key(&self, agent_id: &str, key_id: &str, at: Timestamp) -> Result<bool> {
        let changed = self
            .db
            .run(
                "UPDATE api_keys SET revoked_at = ?3 \
                 WHERE id = ?1 AND agent_id = ?2 AND revoked_at IS NULL",
                params![key_id, agent_id, ms(at)],
                |_| String::new(),
            )
            .await?;
        Ok(changed > 0)
    }
}

const ADMIN_KEY_COLS: &str =
    "id, instance_id, read_only, name, prefix, hash, created_at, expires_at, revoked_at";

#[async_trait]
impl AdminKeyStore for D1Store {
    async fn insert_admin_key(&self, k: &AdminKey) -> Result<()> {
        let sql = format!(
            "INSERT INTO admin_keys ({ADMIN_KEY_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"
        );
        let values = params![
            &k.id,
            k.scope.instance_id(),
            k.read_only,
            &k.name,
            &k.prefix,
            &k.hash,
            ms(k.created_at),
            k.expires_at.map(ms),
            k.revoked_at.map(ms),
        ];
        self.db
            .run(&sql, values, |_| {
                format!("admin key '{}' already exists", k.id)
            })
            .await?;
        Ok(())
    }

    async fn find_admin_keys_by_prefix(&self, prefix: &str) -> Result<Vec<AdminKey>> {
        let sql = format!("SELECT {ADMIN_KEY_COLS} FROM admin_keys WHERE prefix = ?1 ORDER BY id");
        all(
            self.db.rows(&sql, params![prefix]).await?,
            AdminKeyRow::into_domain,
        )
    }

    async fn list_admin_keys(&self) -> Result<Vec<AdminKey>> {
        let sql = format!("SELECT {ADMIN_KEY_COLS} FROM admin_keys ORDER BY id");
        all(
            self.db.rows(&sql, params![]).await?,
            AdminKeyRow::into_domain,
        )
    }

    async fn revoke_admin_key(&self, id: &str, at: Timestamp) -> Result<bool> {
        let changed = self
            .db
            .run(
                "UPDATE admin_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, ms(at)],
                |_| String::new(),
            )
            .await?;
        Ok(changed > 0)
    }
}

#[async_trait]
impl ProviderKeyStore for D1Store {
    async fn put_provider_key(&self, k: &InstanceProviderKey) -> Result<()> {
        self.db
            .run(
                "INSERT INTO instance_provider_keys \
                 (instance_id, provider, sealed_key, key_hint, base_url, updated_at) \
                 VALUES (?1,?2,?3,?4,?5,?6) \
                 ON CONFLICT (instance_id, provider) DO UPDATE SET sealed_key = excluded.sealed_key, \
                 key_hint = excluded.key_hint, base_url = excluded.base_url, \
                 updated_at = excluded.updated_at",
                params![
                    &k.instance_id,
                    k.provider.as_str(),
                    &k.sealed_key,
                    &k.key_hint,
                    k.base_url.clone(),
                    ms(k.updated_at),
                ],
                |_| String::new(),
            )
            .await?;
        Ok(())
    }

    async fn list_provider_keys(&self, instance_id: &str) -> Result<Vec<InstanceProviderKey>> {
        let rows = self
            .db
            .rows(
                "SELECT instance_id, provider, sealed_key, key_hint, base_url, updated_at \
                 FROM instance_provider_keys WHERE instance_id = ?1 ORDER BY provider",
                params![instance_id],
            )
            .await?;
        all(rows, ProviderKeyRow::into_domain)
    }

    async fn delete_provider_key(&self, instance_id: &str, provider: Provider) -> Result<bool> {
        let changed = self
            .db
            .run(
                "DELETE FROM instance_provider_keys WHERE instance_id = ?1 AND provider = ?2",
                params![instance_id, provider.as_str()],
                |_| String::new(),
            )
            .await?;
        Ok(changed > 0)
    }
}
