//! The artifacts store (generated files, agents' uploads): `--artifacts-url`, or by default a
//! directory `artifacts` beside the SQLite database file, so one data directory holds everything a
//! standalone molts keeps.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use molts_core::BlobStore;
use molts_object_store::ObjectBlobStore;

/// `file://…/artifacts` beside the database file of a `sqlite:` URL; in the working directory for
/// an in-memory SQLite database or a server database (PostgreSQL).
pub(crate) fn default_url(database_url: &str) -> Result<String, String> {
    let cwd = std::env::current_dir()
        .map_err(|e| format!("cannot find the working directory for the artifacts store: {e}"))?;
    let data_dir = sqlite_file(database_url)
        .and_then(|file| file.parent().map(Path::to_path_buf))
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| cwd.clone(), |dir| cwd.join(dir));
    let url = url::Url::from_directory_path(data_dir.join("artifacts"))
        .map_err(|()| format!("cannot make a file URL of {}", data_dir.display()))?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The file of `sqlite://path?…`, `sqlite:path` or `sqlite:///abs/path`, if it names one.
fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Opens the store; a `file://` directory is created when missing.
pub(crate) fn open(url: &str) -> Result<Arc<dyn BlobStore>, String> {
    // The message names the artifacts store: the URL may have come from the flag, the variable
    // or molts.toml.
    let store = ObjectBlobStore::from_url(url, std::iter::empty::<(String, String)>())
        .map_err(|e| e.message().to_owned())?;
    tracing::info!(artifacts = store.describe(), "artifacts store ready");
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_sits_beside_the_sqlite_file() -> Result<(), String> {
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        let here = url::Url::from_directory_path(cwd.join("artifacts"))
            .map_err(|()| "cwd".to_owned())?
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        assert_eq!(default_url("sqlite://molts.db?mode=rwc")?, here);
        assert_eq!(default_url("postgres://u@h/db")?, here);
        assert_eq!(default_url("sqlite::memory:")?, here);
        assert_eq!(
            default_url("sqlite:///var/lib/molts/molts.db?mode=rwc")?,
            "file:///var/lib/molts/artifacts"
        );
        let nested = default_url("sqlite://data/molts.db?mode=rwc")?;
        assert!(
            nested.ends_with("/data/artifacts") && nested.starts_with("file:///"),
            "{nested}"
        );
        Ok(())
    }

    #[test]
    fn opening_creates_the_directory() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = dir.path().join("data/artifacts");
        let url = url::Url::from_directory_path(&root).map_err(|()| "dir".to_owned())?;
        open(url.as_str())?;
        assert!(root.is_dir());
        assert!(open("ftp://nowhere").is_err());
        Ok(())
    }
}
