//! The artifacts store on Lambda: `MOLTS_ARTIFACTS_URL`, an `s3://bucket/prefix` in any real
//! deployment (credentials from the function's role, which Lambda puts in the environment). Left
//! unset, files go to a directory under /tmp: that lives only as long as one execution
//! environment and is not shared between concurrent ones, so every cold start warns about it.

use std::sync::Arc;

use molts_core::BlobStore;
use molts_object_store::ObjectBlobStore;

use crate::config::Settings;

/// Where files go without `MOLTS_ARTIFACTS_URL`.
pub(crate) const FALLBACK_URL: &str = "file:///tmp/molts-artifacts";

/// Opens the configured store, or the /tmp fallback with a warning.
pub(crate) fn open(settings: &Settings) -> Result<Arc<dyn BlobStore>, String> {
    let url = match &settings.artifacts_url {
        Some(url) => url.as_str(),
        None => {
            tracing::warn!(
                artifacts = FALLBACK_URL,
                "MOLTS_ARTIFACTS_URL is not set: generated files and uploads go to /tmp of this \
                 execution environment and are lost with it; set it to s3://bucket/prefix"
            );
            FALLBACK_URL
        }
    };
    let store = ObjectBlobStore::from_url(url, std::iter::empty::<(String, String)>())
        .map_err(|e| format!("MOLTS_ARTIFACTS_URL: {}", e.message()))?;
    tracing::info!(artifacts = store.describe(), "artifacts store ready");
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(artifacts_url: Option<String>) -> Result<Settings, String> {
        Settings::from_lookup(|name| match name {
            "MOLTS_DATABASE_URL" => Some("postgres://u@h/db".to_owned()),
            "MOLTS_ADMIN_TOKEN" => Some("an-operator-token-of-at-least-32-chars".to_owned()),
            "MOLTS_ARTIFACTS_URL" => artifacts_url.clone(),
            _ => None,
        })
    }

    #[test]
    fn the_configured_store_is_opened() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = dir.path().join("efs/artifacts");
        open(&settings(Some(format!("file://{}", root.display())))?)?;
        assert!(root.is_dir());
        // An S3 URL opens without contacting anything (credentials are checked on first use).
        open(&settings(Some("s3://media-bucket/molts".to_owned()))?)?;
        let bad = open(&settings(Some("ftp://x".to_owned()))?).err();
        assert!(
            matches!(&bad, Some(e) if e.starts_with("MOLTS_ARTIFACTS_URL")),
            "{bad:?}"
        );
        assert!(FALLBACK_URL.starts_with("file:///tmp/"));
        Ok(())
    }
}
