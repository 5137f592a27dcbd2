//! `ArtifactStore` over D1: records of stored files (the bytes are in R2). The unique index on
//! (agent_id, kind, name, version) makes concurrent uploads of one name take distinct versions.

use async_trait::async_trait;
use molts_core::Result;
use molts_core::domain::{Artifact, ArtifactKind, ArtifactQuery};
use molts_core::ports::ArtifactStore;
use serde::Deserialize;

use crate::D1Store;
use crate::rows::{all, corrupt, count, ms, parsed, time};
use crate::sql::{checked, params};

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
        let sql = format!(
            "INSERT INTO artifacts ({COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
        );
        let values = params![
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
        ];
        self.db
            .run(&sql, values, |text| {
                // D1 names the clashing columns: the (agent, kind, name, version) index, or the id.
                if text.contains("artifacts.version") {
                    format!("'{}' version {} already exists", a.name, a.version)
                } else {
                    format!("artifact '{}' already exists", a.id)
                }
            })
            .await?;
        Ok(())
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

    async fn delete_artifact(&self, id: &str) -> Result<bool> {
        let changed = self
            .db
            .run("DELETE FROM artifacts WHERE id = ?1", params![id], |_| {
                String::new()
            })
            .await?;
        Ok(changed > 0)
    }
}
