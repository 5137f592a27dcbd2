//! Artifacts: every file molts keeps in the operator's object store — job outputs, generated
//! images and speech, and agents' own uploads (voice samples, SOUL.md backups), versioned by name.

use serde::Serialize;

use crate::clock::Timestamp;

/// Where an artifact came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// Made by a provider (a job's video, an image, speech).
    Output,
    /// Uploaded by the agent.
    Upload,
}

impl ArtifactKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Output => "output",
            Self::Upload => "upload",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "output" => Some(Self::Output),
            "upload" => Some(Self::Upload),
            _ => None,
        }
    }
}

/// One stored file's record; the bytes live in the `BlobStore` under `blob_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    /// `art_…`.
    pub id: String,
    /// The owner's instance.
    pub instance_id: String,
    /// The owning agent: only it (and its instance's admins) may read it.
    pub agent_id: String,
    /// Output or upload.
    pub kind: ArtifactKind,
    /// The job that made it, for job outputs.
    pub job_id: Option<String>,
    /// A file name (`video.mp4`, `SOUL.md`); uploads are versioned per agent and name.
    pub name: String,
    /// 1, 2, … per agent and name for uploads; 1 for outputs.
    pub version: u32,
    /// The object key in the blob store.
    #[serde(skip)]
    pub blob_key: String,
    /// MIME type.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Stored.
    pub created_at: Timestamp,
}

/// Which artifacts to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactQuery {
    /// The owning agent.
    pub agent_id: String,
    /// Only this kind.
    pub kind: Option<ArtifactKind>,
    /// Only this name (every version of it).
    pub name: Option<String>,
    /// Only artifacts with ids before this one; newest first.
    pub before: Option<String>,
    /// Page size.
    pub limit: u32,
}
