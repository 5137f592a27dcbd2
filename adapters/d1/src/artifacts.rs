//! `ArtifactStore` over D1: records of stored files (the bytes are in R2). The unique index on
//! (agent_id, kind, name, version) makes concurrent uploads of one name take distinct versions.
//!
//! Storage counting, as the ledger does it (`quota.rs`): recording an upload is one batch —
//! create both owners' `storage_usage` rows at zero; insert the record with its `agent_id`
//! written as `CASE WHEN <a capped row would pass its cap> THEN NULL ELSE ?agent END`, so a full
//! cap aborts the batch on the NOT NULL constraint; add the size to both rows. D1 runs a
//! database's batches one at a time, so the guard sees every earlier upload. Deleting is one
//! batch too: give back the size of the record (read by sub-select) while it still exists, then
//! delete it.

use async_trait::async_trait;
use molts_core::domain::{
    Artifact, ArtifactKind, ArtifactQuery, StorageLimits, StorageOutcome, StorageScope, StorageUsed,
};
use molts_core::ports::ArtifactStore;
use molts_core::{Error, Result, Timestamp};
use serde::Deserialize;

use crate::D1Store;
use crate::rows::{all, corrupt, count, ms, parsed, time};
use crate::sql::{MAX_EXACT, Stmt, V, checked, params};

/// The marker D1 reports when the storage guard refuses an upload.
const FULL: &str = "NOT NULL constraint failed: artifacts.agent_id";

#[derive(Deserialize)]
struct UsageRow {
    scope: String,
    bytes: i64,
}

const COLS: &str = "id, instance_id, agent_id, kind, job_id, name, version, blob_key, \
                    content_type, size, sha256, created_at";

#[derive(Deserialize)]
struct ArtifactRow {
    id: String,
    instance_id: String,
    agent_id: String,
    kind: String,
    job_id: Option<String>,
    name: String,
    version: i64,
    blob_key: String,
    content_type: String,
    size: i64,
    sha256: String,
    created_at: i64,
}

impl ArtifactRow {
    fn into_domain(self) -> Result<Artifact> {
        Ok(Artifact {
            kind: parsed("artifact kind", &self.kind, ArtifactKind::parse)?,
            version: u32::try_from(self.version)
                .map_err(|_| corrupt("artifact version", self.version))?,
            size: count("artifact size", self.size)?,
            created_at: time("artifact created_at", self.created_at)?,
            id: self.id,
            instance_id: self.instance_id,
            agent_id: self.agent_id,
            job_id: self.job_id,
            name: self.name,
            blob_key: self.blob_key,
            content_type: self.content_type,
            sha256: self.sha256,
        })
    }
}

#[async_trait]
impl ArtifactStore for D1Store {
    async fn insert_artifact(&self, a: &Artifact) -> Result<()> {
        if a.kind == ArtifactKind::Upload {
            return self.insert_upload(a, StorageLimits::NONE).await.map(|_| ());
        }
        let sql = format!(
            "INSERT INTO artifacts ({COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
        );
        self.db
            .run(&sql, record_values(a)?, |text| taken(a, text))
            .await?;
        Ok(())
    }

    async fn insert_upload(&self, a: &Artifact, limits: StorageLimits) -> Result<StorageOutcome> {
        if a.kind != ArtifactKind::Upload {
            self.insert_artifact(a).await?;
            return Ok(StorageOutcome::Stored);
        }
        let size = checked("size", a.size)?;
        let agent = StorageScope::Agent.as_str();
        let instance = StorageScope::Instance.as_str();
        // ?13 agent scope, ?14 instance scope; ?15 agent cap, ?16 instance cap (NULL: none).
        let cap = |scope: StorageScope| {
            limits
                .of(scope)
                .and_then(|m| i64::try_from(m).ok())
                .filter(|m| *m <= MAX_EXACT)
        };
        let mut insert_params = record_values(a)?;
        insert_params.extend(params![
            agent,
            instance,
            cap(StorageScope::Agent),
            cap(StorageScope::Instance)
        ]);
        let stmts = vec![
            Stmt {
                sql: "INSERT INTO storage_usage (scope, owner_id, bytes) VALUES (?1, ?2, 0), \
                      (?3, ?4, 0) ON CONFLICT DO NOTHING"
                    .to_owned(),
                params: params![agent, &a.agent_id, instance, &a.instance_id],
            },
            Stmt {
                sql: format!(
                    "INSERT INTO artifacts ({COLS}) VALUES (?1,?2,\
                     CASE WHEN EXISTS (SELECT 1 FROM storage_usage WHERE \
                     (scope = ?13 AND owner_id = ?3 AND ?15 IS NOT NULL AND bytes + ?10 > ?15) OR \
                     (scope = ?14 AND owner_id = ?2 AND ?16 IS NOT NULL AND bytes + ?10 > ?16)) \
                     THEN NULL ELSE ?3 END,\
                     ?4,?5,?6,?7,?8,?9,?10,?11,?12)"
                ),
                params: insert_params,
            },
            Stmt {
                sql: "UPDATE storage_usage SET bytes = bytes + ?1 \
                      WHERE (scope = ?2 AND owner_id = ?3) OR (scope = ?4 AND owner_id = ?5)"
                    .to_owned(),
                params: params![size, agent, &a.agent_id, instance, &a.instance_id],
            },
        ];
        match self.db.try_batch(stmts).await? {
            Ok(_) => Ok(StorageOutcome::Stored),
            Err(text) if text.contains(FULL) => {
                let used = self.storage_used(&a.agent_id, &a.instance_id).await?;
                let (scope, max) = used
                    .exceeded_by(a.size, limits)
                    // Room was freed in between: report the agent's cap, as it was full then.
                    .unwrap_or((StorageScope::Agent, limits.agent.unwrap_or(u64::MAX)));
                Ok(StorageOutcome::Exceeded {
                    scope,
                    max,
                    used: used.of(scope),
                })
            }
            Err(text) if text.contains("UNIQUE constraint failed") => {
                Err(Error::conflict(taken(a, &text)))
            }
            Err(text) => Err(Error::internal("a database statement failed")
                .with_source(std::io::Error::other(text))),
        }
    }

    async fn storage_used(&self, agent_id: &str, instance_id: &str) -> Result<StorageUsed> {
        let rows: Vec<UsageRow> = self
            .db
            .rows(
                "SELECT scope, bytes FROM storage_usage \
                 WHERE (scope = ?1 AND owner_id = ?2) OR (scope = ?3 AND owner_id = ?4)",
                params![
                    StorageScope::Agent.as_str(),
                    agent_id,
                    StorageScope::Instance.as_str(),
                    instance_id
                ],
            )
            .await?;
        let mut used = StorageUsed::default();
        for row in rows {
            let bytes = count("storage bytes", row.bytes)?;
            match row.scope.as_str() {
                "agent" => used.agent = bytes,
                "instance" => used.instance = bytes,
                other => return Err(corrupt("storage scope", other)),
            }
        }
        Ok(used)
    }

    async fn get_artifact(&self, id: &str) -> Result<Option<Artifact>> {
        let sql = format!("SELECT {COLS} FROM artifacts WHERE id = ?1");
        let row: Option<ArtifactRow> = self.db.row(&sql, params![id]).await?;
        row.map(ArtifactRow::into_domain).transpose()
    }

    async fn list_artifacts(&self, q: &ArtifactQuery) -> Result<Vec<Artifact>> {
        let sql = format!(
            "SELECT {COLS} FROM artifacts WHERE agent_id = ?1 AND (?2 IS NULL OR kind = ?2) \
             AND (?3 IS NULL OR name = ?3) AND (?4 IS NULL OR id < ?4) \
             ORDER BY id DESC LIMIT ?5"
        );
        let values = params![
            &q.agent_id,
            q.kind.map(ArtifactKind::as_str),
            q.name.clone(),
            q.before.clone(),
            i64::from(q.limit),
        ];
        all(self.db.rows(&sql, values).await?, ArtifactRow::into_domain)
    }

    async fn latest_upload(&self, agent_id: &str, name: &str) -> Result<Option<Artifact>> {
        let sql = format!(
            "SELECT {COLS} FROM artifacts WHERE agent_id = ?1 AND kind = ?2 AND name = ?3 \
             ORDER BY version DESC LIMIT 1"
        );
        let values = params![agent_id, ArtifactKind::Upload.as_str(), name];
        let row: Option<ArtifactRow> = self.db.row(&sql, values).await?;
        row.map(ArtifactRow::into_domain).transpose()
    }

    async fn outputs_created_before(&self, before: Timestamp, limit: u32) -> Result<Vec<Artifact>> {
        // `idx_artifacts_kind_created` answers it as a range, passing no uploads.
        let sql = format!(
            "SELECT {COLS} FROM artifacts WHERE kind = ?1 AND created_at < ?2 \
             ORDER BY created_at, id LIMIT ?3"
        );
        let values = params![ArtifactKind::Output.as_str(), ms(before), i64::from(limit)];
        all(self.db.rows(&sql, values).await?, ArtifactRow::into_domain)
    }

    async fn delete_artifact(&self, id: &str) -> Result<bool> {
        let of = |col: &str| format!("(SELECT {col} FROM artifacts WHERE id = ?1 AND kind = ?2)");
        let release = format!(
            "UPDATE storage_usage SET bytes = MAX(bytes - {size}, 0) \
             WHERE (scope = ?3 AND owner_id = {agent}) OR (scope = ?4 AND owner_id = {instance})",
            size = of("size"),
            agent = of("agent_id"),
            instance = of("instance_id"),
        );
        let changed = self
            .db
            .batch(
                vec![
                    Stmt {
                        sql: release,
                        params: params![
                            id,
                            ArtifactKind::Upload.as_str(),
                            StorageScope::Agent.as_str(),
                            StorageScope::Instance.as_str()
                        ],
                    },
                    Stmt {
                        sql: "DELETE FROM artifacts WHERE id = ?1".to_owned(),
                        params: params![id],
                    },
                ],
                |_| String::new(),
            )
            .await?;
        Ok(changed.get(1).copied().unwrap_or(0) > 0)
    }
}

/// The record's twelve columns, in `COLS` order (`?1`…`?12`).
fn record_values(a: &Artifact) -> Result<Vec<V>> {
    Ok(params![
        &a.id,
        &a.instance_id,
        &a.agent_id,
        a.kind.as_str(),
        a.job_id.clone(),
        &a.name,
        i64::from(a.version),
        &a.blob_key,
        &a.content_type,
        checked("size", a.size)?,
        &a.sha256,
        ms(a.created_at),
    ])
}

/// D1 names the clashing columns: the (agent, kind, name, version) index, or the id.
fn taken(a: &Artifact, text: &str) -> String {
    if text.contains("artifacts.version") {
        format!("'{}' version {} already exists", a.name, a.version)
    } else {
        format!("artifact '{}' already exists", a.id)
    }
}
