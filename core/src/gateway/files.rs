//! Agents' own files — voice samples, SOUL.md backups — uploaded under a name, kept as numbered
//! versions, and deleted one version or all at once.
//!
//! Every upload counts against two storage caps (`domain/storage.rs`): its agent's tier's
//! `storage_bytes` and its instance's. A body that cannot fit under them is refused while it
//! streams; the store's atomic insert decides for uploads racing each other; a delete gives the
//! bytes back.

use futures::StreamExt;
use serde::Serialize;

use crate::ErrorCode;
use crate::domain::{
    Artifact, ArtifactKind, ArtifactQuery, StorageLimits, StorageOutcome, StorageScope, StorageUsed,
};
use crate::error::{Error, ErrorKind, Result};
use crate::ports::ByteStream;

use super::artifacts::ArtifactView;
use super::{AgentPrincipal, Gateway};

/// Largest file an agent may upload.
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// Longest file name.
const MAX_NAME: usize = 128;
/// Versions looked at per step of deleting a whole file.
const DELETE_BATCH: u32 = 100;

/// What `DELETE /v1/files/{name}` removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedFile {
    /// The file name.
    pub name: String,
    /// The versions deleted, newest first.
    pub versions: Vec<u32>,
    /// Bytes given back to the agent's storage.
    pub freed_bytes: u64,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!(
                "a file name is 1 to {MAX_NAME} letters, digits, '.', '_' or '-', not starting with '.'"
            ),
        ))
    }
}

fn check_content_type(content_type: &str) -> Result<()> {
    let ok = content_type.len() <= 255
        && content_type.contains('/')
        && content_type
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "Content-Type",
            "the upload needs a valid Content-Type",
        ))
    }
}

/// The caps the caller's uploads count against.
pub(super) fn storage_limits(principal: &AgentPrincipal) -> StorageLimits {
    StorageLimits {
        agent: principal.tier.storage_bytes.max(),
        instance: principal.instance.settings.storage_bytes.max(),
    }
}

/// The refusal of an upload that does not fit: which cap, how full, what to do.
fn storage_full(scope: StorageScope, max: u64, used: u64, size: u64) -> Error {
    let whose = match scope {
        StorageScope::Agent => "this agent's uploads",
        StorageScope::Instance => "the uploads of this instance's agents together",
    };
    Error::new(
        ErrorKind::QuotaExceeded,
        format!(
            "storage limit reached: {whose} may keep {max} bytes, {used} are kept and this file \
             needs {size} more; delete files (DELETE /v1/files/{{name}}) to make room"
        ),
    )
    .with_code(ErrorCode::QuotaExceeded)
}

impl Gateway {
    /// The caller's upload `name`: the latest version, or the one asked for.
    pub async fn file(
        &self,
        principal: &AgentPrincipal,
        name: &str,
        version: Option<u32>,
    ) -> Result<ArtifactView> {
        check_name(name)?;
        let found = match version {
            None => {
                self.inner
                    .ports
                    .stores
                    .artifacts
                    .latest_upload(&principal.agent.id, name)
                    .await?
            }
            Some(v) => self.file_version(principal, name, v).await?,
        };
        found
            .map(|a| self.artifact_view(&a))
            .ok_or_else(|| Error::not_found("file", name))
    }

    /// A page of the caller's versions of `name`, newest first, before `before`.
    async fn file_versions(
        &self,
        principal: &AgentPrincipal,
        name: &str,
        before: Option<String>,
    ) -> Result<Vec<Artifact>> {
        self.inner
            .ports
            .stores
            .artifacts
            .list_artifacts(&ArtifactQuery {
                agent_id: principal.agent.id.clone(),
                kind: Some(ArtifactKind::Upload),
                name: Some(name.to_owned()),
                before,
                limit: DELETE_BATCH,
            })
            .await
    }

    async fn file_version(
        &self,
        principal: &AgentPrincipal,
        name: &str,
        version: u32,
    ) -> Result<Option<Artifact>> {
        let mut before = None;
        // Newest first: page until the version is found or passed.
        loop {
            let page = self.file_versions(principal, name, before.take()).await?;
            let last = page.len() < DELETE_BATCH as usize;
            before = page.last().map(|a| a.id.clone());
            if let Some(found) = page.into_iter().find(|a| a.version == version) {
                return Ok(Some(found));
            }
            if last {
                return Ok(None);
            }
        }
    }

    /// Stores a new version of the caller's file `name`, if it fits under the caller's storage
    /// caps (`QuotaExceeded` otherwise, nothing kept).
    pub async fn upload_file(
        &self,
        principal: &AgentPrincipal,
        name: &str,
        content_type: &str,
        body: ByteStream,
    ) -> Result<ArtifactView> {
        check_name(name)?;
        check_content_type(content_type)?;
        let blobs = self.blobs()?;
        let store = &self.inner.ports.stores.artifacts;
        let limits = storage_limits(principal);
        let used = if limits == StorageLimits::NONE {
            StorageUsed::default()
        } else {
            store
                .storage_used(&principal.agent.id, &principal.agent.instance_id)
                .await?
        };
        let id = self.new_id("art");
        let key = format!("uploads/{}/{id}", principal.agent.id);
        let mut seen = 0u64;
        // Read no further than the caps leave room for now: a body that cannot fit is refused
        // while it streams, not after it was stored. Racing uploads are the store's to decide.
        let body = body
            .map(move |chunk| {
                let chunk = chunk?;
                seen += chunk.len() as u64;
                if seen > MAX_UPLOAD_BYTES {
                    return Err(Error::invalid(
                        "body",
                        format!("an upload may be at most {MAX_UPLOAD_BYTES} bytes"),
                    )
                    .with_code(ErrorCode::BodyTooLarge));
                }
                if let Some((scope, max)) = used.exceeded_by(seen, limits) {
                    return Err(storage_full(scope, max, used.of(scope), seen));
                }
                Ok(chunk)
            })
            .boxed();
        let meta = blobs.put(&key, content_type, body).await?;
        // Two uploads of one name may race for the next version: the store's uniqueness
        // decides, and the loser takes the version after.
        for _ in 0..10 {
            let version = store
                .latest_upload(&principal.agent.id, name)
                .await?
                .map_or(1, |a| a.version + 1);
            let artifact = Artifact {
                id: id.clone(),
                instance_id: principal.agent.instance_id.clone(),
                agent_id: principal.agent.id.clone(),
                kind: ArtifactKind::Upload,
                job_id: None,
                name: name.to_owned(),
                version,
                blob_key: key.clone(),
                content_type: content_type.to_owned(),
                size: meta.size,
                sha256: meta.sha256.clone(),
                created_at: self.now(),
            };
            let refusal = match store.insert_upload(&artifact, limits).await {
                Ok(StorageOutcome::Stored) => return Ok(self.artifact_view(&artifact)),
                Ok(StorageOutcome::Exceeded { scope, max, used }) => {
                    storage_full(scope, max, used, meta.size)
                }
                Err(e) if e.kind() == ErrorKind::Conflict => continue,
                Err(e) => e,
            };
            self.forget_blob(&key).await;
            return Err(refusal);
        }
        self.forget_blob(&key).await;
        Err(Error::unavailable(
            "too many concurrent uploads of this name; try again",
        ))
    }

    /// Deletes one version of the caller's file `name`, or every version; `NotFound` when
    /// there was nothing to delete.
    pub async fn delete_file(
        &self,
        principal: &AgentPrincipal,
        name: &str,
        version: Option<u32>,
    ) -> Result<DeletedFile> {
        check_name(name)?;
        let mut deleted = DeletedFile {
            name: name.to_owned(),
            versions: Vec::new(),
            freed_bytes: 0,
        };
        match version {
            Some(v) => {
                if let Some(artifact) = self.file_version(principal, name, v).await? {
                    self.delete_upload(&artifact, &mut deleted).await?;
                }
            }
            None => loop {
                let page = self.file_versions(principal, name, None).await?;
                if page.is_empty() {
                    break;
                }
                for artifact in &page {
                    self.delete_upload(artifact, &mut deleted).await?;
                }
            },
        }
        if deleted.versions.is_empty() {
            return Err(Error::not_found("file", name));
        }
        Ok(deleted)
    }

    /// The bytes first, then the record: a failure between the two leaves a record whose
    /// delete can be retried, never bytes nobody can reach or count.
    async fn delete_upload(&self, artifact: &Artifact, deleted: &mut DeletedFile) -> Result<()> {
        self.blobs()?.delete(&artifact.blob_key).await?;
        if self
            .inner
            .ports
            .stores
            .artifacts
            .delete_artifact(&artifact.id)
            .await?
        {
            deleted.versions.push(artifact.version);
            deleted.freed_bytes += artifact.size;
        }
        Ok(())
    }

    /// Deletes stored bytes nothing will record, logging (not failing on) an error.
    async fn forget_blob(&self, key: &str) {
        if let Ok(blobs) = self.blobs()
            && let Err(e) = blobs.delete(key).await
        {
            tracing::warn!(blob = %key, error = %e, "deleting an unrecorded upload failed");
        }
    }
}
