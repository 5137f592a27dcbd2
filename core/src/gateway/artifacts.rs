//! Artifacts as agents see them: keeping generated images and speech, reading job outputs and
//! uploads (whole, by byte range, or through a time-limited URL the object store signs). The
//! uploads themselves — named, versioned, under storage caps — are `files.rs`.

use std::ops::Range;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::domain::{Artifact, ArtifactKind, ArtifactQuery};
use crate::error::{Error, Result};
use crate::ports::{BlobObject, HttpClientExt};

use super::admin::Page;
use super::{AgentPrincipal, Gateway};

/// Longest a signed URL may live.
const MAX_URL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// A stored file as its agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactView {
    /// `art_…`.
    pub id: String,
    /// `output` or `upload`.
    pub kind: ArtifactKind,
    /// The file name.
    pub name: String,
    /// Its version (uploads count up per name).
    pub version: u32,
    /// MIME type.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// The job that made it.
    pub job_id: Option<String>,
    /// Where to download it (authenticated).
    pub url: String,
    /// Stored.
    pub created_at: Timestamp,
}

/// An artifact's bytes being served.
pub struct ArtifactContent {
    /// The record.
    pub artifact: ArtifactView,
    /// The bytes (a range of them, if one was asked for).
    pub object: BlobObject,
}

impl std::fmt::Debug for ArtifactContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactContent")
            .field("artifact", &self.artifact)
            .finish_non_exhaustive()
    }
}

/// Largest provider-hosted image copied into the store.
const MAX_IMAGE_BYTES: usize = 64 * 1024 * 1024;

/// A file extension for a generated file's MIME type.
fn extension(content_type: &str) -> &'static str {
    match content_type.split(';').next().unwrap_or("").trim() {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "audio/mpeg" => "mp3",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/ogg" | "audio/opus" => "ogg",
        "audio/aac" => "aac",
        "audio/flac" => "flac",
        _ => "bin",
    }
}

impl Gateway {
    /// Keeps a generated file (an image, speech) in the blob store for its agent. Answers
    /// `None` — with the reason logged — when no store is configured or storing failed: the
    /// caller already has the bytes inline, so the request itself still succeeds.
    pub(super) async fn keep_output(
        &self,
        principal: &AgentPrincipal,
        what: &str,
        content_type: &str,
        bytes: bytes::Bytes,
    ) -> Option<ArtifactView> {
        let blobs = self.inner.blobs.as_ref()?;
        let id = self.new_id("art");
        // Unique per agent (the store keeps names unique per kind and version).
        let name = format!(
            "{what}-{}.{}",
            id.trim_start_matches("art_"),
            extension(content_type)
        );
        let key = format!("outputs/{}/{id}/{name}", principal.agent.id);
        let body = futures::stream::iter([Ok(bytes)]).boxed();
        let stored = async {
            let meta = blobs.put(&key, content_type, body).await?;
            let artifact = Artifact {
                id: id.clone(),
                instance_id: principal.agent.instance_id.clone(),
                agent_id: principal.agent.id.clone(),
                kind: ArtifactKind::Output,
                job_id: None,
                name,
                version: 1,
                blob_key: key.clone(),
                content_type: content_type.to_owned(),
                size: meta.size,
                sha256: meta.sha256,
                created_at: self.now(),
            };
            self.inner
                .ports
                .stores
                .artifacts
                .insert_artifact(&artifact)
                .await?;
            Ok::<_, Error>(artifact)
        }
        .await;
        match stored {
            Ok(artifact) => Some(self.artifact_view(&artifact)),
            Err(e) => {
                tracing::error!(artifact = %id, error = %e, "keeping a generated file failed");
                None
            }
        }
    }

    /// Copies a provider-hosted image (an expiring URL) into the blob store, fetched through the
    /// client `operator`'s origin calls for (`outbound.rs`); a refused URL is logged and kept
    /// nowhere, like any failed copy.
    pub(super) async fn keep_output_from_url(
        &self,
        principal: &AgentPrincipal,
        what: &str,
        url: &str,
        operator: Option<&url::Origin>,
    ) -> Option<ArtifactView> {
        self.inner.blobs.as_ref()?;
        let fetched = async {
            let (http, request) = self.provider_url_get(url, operator)?;
            let response = http
                .send_collect(
                    request,
                    crate::ports::RequestOptions::default(),
                    MAX_IMAGE_BYTES,
                )
                .await?;
            if !response.status().is_success() {
                return Err(Error::unavailable(format!(
                    "fetching the image answered HTTP {}",
                    response.status().as_u16()
                )));
            }
            let content_type = response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("image/png")
                .to_owned();
            Ok::<_, Error>((content_type, response.into_body()))
        }
        .await;
        match fetched {
            Ok((content_type, bytes)) => {
                self.keep_output(principal, what, &content_type, bytes)
                    .await
            }
            Err(e) => {
                tracing::error!(error = %e, "copying a provider-hosted image failed");
                None
            }
        }
    }

    pub(super) fn artifact_view(&self, a: &Artifact) -> ArtifactView {
        ArtifactView {
            id: a.id.clone(),
            kind: a.kind,
            name: a.name.clone(),
            version: a.version,
            content_type: a.content_type.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            job_id: a.job_id.clone(),
            url: format!("{}/v1/artifacts/{}/content", self.public_base(), a.id),
            created_at: a.created_at,
        }
    }

    /// One of the caller's artifacts. A job's output exists only once its job is `ready`: the
    /// output of a job canceled or failed while it was being copied is `NotFound`, like any
    /// other missing artifact.
    async fn own_artifact(&self, principal: &AgentPrincipal, id: &str) -> Result<Artifact> {
        let artifact = match self.inner.ports.stores.artifacts.get_artifact(id).await? {
            Some(a) if a.agent_id == principal.agent.id => a,
            _ => return Err(Error::not_found("artifact", id)),
        };
        if artifact.kind == ArtifactKind::Output
            && let Some(job_id) = &artifact.job_id
        {
            let job = self.inner.ports.stores.jobs.get_job(job_id).await?;
            if job.is_none_or(|j| j.status != crate::domain::JobStatus::Ready) {
                return Err(Error::not_found("artifact", id));
            }
        }
        Ok(artifact)
    }

    /// One of the caller's artifacts.
    pub async fn artifact(&self, principal: &AgentPrincipal, id: &str) -> Result<ArtifactView> {
        Ok(self.artifact_view(&self.own_artifact(principal, id).await?))
    }

    /// The bytes of one of the caller's artifacts, or a range of them.
    pub async fn artifact_content(
        &self,
        principal: &AgentPrincipal,
        id: &str,
        range: Option<Range<u64>>,
    ) -> Result<ArtifactContent> {
        let artifact = self.own_artifact(principal, id).await?;
        let object = self.blobs()?.get(&artifact.blob_key, range).await?;
        Ok(ArtifactContent {
            artifact: self.artifact_view(&artifact),
            object,
        })
    }

    /// A URL the object store signed for one of the caller's artifacts, valid for
    /// `expires_in`; `None` when the store cannot sign (local files): use the content URL.
    pub async fn artifact_signed_url(
        &self,
        principal: &AgentPrincipal,
        id: &str,
        expires_in: Duration,
    ) -> Result<Option<String>> {
        if expires_in.is_zero() || expires_in > MAX_URL_LIFETIME {
            return Err(Error::invalid(
                "expires_in",
                "expires_in must be between 1 second and 7 days",
            ));
        }
        let artifact = self.own_artifact(principal, id).await?;
        self.blobs()?
            .signed_url(&artifact.blob_key, expires_in)
            .await
    }

    /// A page of the caller's artifacts, newest first.
    pub async fn list_artifacts(
        &self,
        principal: &AgentPrincipal,
        kind: Option<ArtifactKind>,
        name: Option<String>,
        before: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<ArtifactView>> {
        let limit = limit
            .unwrap_or(20)
            .clamp(1, self.inner.config.max_page_size);
        let mut rows = self
            .inner
            .ports
            .stores
            .artifacts
            .list_artifacts(&ArtifactQuery {
                agent_id: principal.agent.id.clone(),
                kind,
                name,
                before,
                limit: limit + 1,
            })
            .await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(Page {
            data: rows.iter().map(|a| self.artifact_view(a)).collect(),
            has_more,
        })
    }
}
