//! Configuration: flags beat `MOLTS_*` environment variables (clap reads both), which beat
//! `molts.toml`, which beats the defaults. The file is optional.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Deserialize;

/// Where molts listens by default.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// The default database: a SQLite file in the working directory, created if missing.
pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://molts.db?mode=rwc";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, Args, Default)]
pub(crate) struct CommonOptions {
    /// Configuration file (TOML); `./molts.toml` is read when present.
    #[arg(long, env = "MOLTS_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Database URL: `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    #[arg(long, env = "MOLTS_DATABASE_URL", global = true)]
    pub(crate) database_url: Option<String>,
    /// Where generated files and uploads go: `file:///dir`, `s3://bucket/prefix`, `gs://…`,
    /// `az://…` (default: `artifacts/` beside the SQLite file).
    #[arg(long, env = "MOLTS_ARTIFACTS_URL", global = true)]
    pub(crate) artifacts_url: Option<String>,
    /// Log format.
    #[arg(long, env = "MOLTS_LOG_FORMAT", global = true, value_enum)]
    pub(crate) log_format: Option<LogFormat>,
}

/// Options of `molts serve`.
#[derive(Debug, Clone, Args, Default)]
pub(crate) struct ServeOptions {
    /// Address to listen on.
    #[arg(long, env = "MOLTS_LISTEN")]
    pub(crate) listen: Option<SocketAddr>,
    /// Operator admin token (at least 32 characters). Without it, one is generated and printed
    /// once on first start.
    #[arg(long, env = "MOLTS_ADMIN_TOKEN", hide_env_values = true)]
    pub(crate) admin_token: Option<String>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "MOLTS_MAX_BODY_BYTES")]
    pub(crate) max_body_bytes: Option<usize>,
    /// Instance that registrations without an `instance` field join.
    #[arg(long, env = "MOLTS_DEFAULT_INSTANCE")]
    pub(crate) default_instance: Option<String>,
    /// Serve the offline `demo` models (on by default).
    #[arg(long, env = "MOLTS_DEMO_PROVIDERS")]
    pub(crate) demo_providers: Option<bool>,
    /// 32-byte key (64 hex digits or base64) sealing tenants' own provider keys at rest.
    #[arg(long, env = "MOLTS_SECRET_KEY", hide_env_values = true)]
    pub(crate) secret_key: Option<String>,
}

/// `molts.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    artifacts_url: Option<String>,
    log_format: Option<LogFormat>,
    listen: Option<SocketAddr>,
    admin_token: Option<String>,
    max_body_bytes: Option<usize>,
    default_instance: Option<String>,
    demo_providers: Option<bool>,
    secret_key: Option<String>,
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) database_url: String,
    pub(crate) artifacts_url: String,
    pub(crate) log_format: LogFormat,
    pub(crate) listen: SocketAddr,
    pub(crate) admin_token: Option<String>,
    pub(crate) max_body_bytes: usize,
    pub(crate) default_instance: String,
    pub(crate) demo_providers: bool,
    pub(crate) secret_key: Option<String>,
}

fn read_file(explicit: Option<&Path>) -> Result<FileConfig, String> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let default = PathBuf::from("molts.toml");
            if !default.exists() {
                return Ok(FileConfig::default());
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Settings {
    /// Resolves flags and environment over the file over defaults.
    pub(crate) fn resolve(common: &CommonOptions, serve: &ServeOptions) -> Result<Self, String> {
        let file = read_file(common.config.as_deref())?;
        let default_listen: SocketAddr = DEFAULT_LISTEN.parse().map_err(|e| format!("{e}"))?;
        let database_url = common
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let artifacts_url = match common.artifacts_url.clone().or(file.artifacts_url) {
            Some(url) => url,
            None => crate::artifacts::default_url(&database_url)?,
        };
        Ok(Self {
            database_url,
            artifacts_url,
            log_format: common.log_format.or(file.log_format).unwrap_or_default(),
            listen: serve.listen.or(file.listen).unwrap_or(default_listen),
            admin_token: serve.admin_token.clone().or(file.admin_token),
            max_body_bytes: serve
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(molts_http_api::DEFAULT_MAX_BODY_BYTES),
            default_instance: serve
                .default_instance
                .clone()
                .or(file.default_instance)
                .unwrap_or_else(|| "default".to_owned()),
            demo_providers: serve.demo_providers.or(file.demo_providers).unwrap_or(true),
            secret_key: serve.secret_key.clone().or(file.secret_key),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beats_defaults() -> Result<(), String> {
        let dir = std::env::temp_dir().join(format!("molts-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join("molts.toml");
        std::fs::write(
            &path,
            "database_url = \"postgres://file/db\"\nlisten = \"127.0.0.1:9999\"\n",
        )
        .map_err(|e| e.to_string())?;
        let common = CommonOptions {
            config: Some(path.clone()),
            ..Default::default()
        };
        let serve = ServeOptions {
            listen: Some("127.0.0.1:1234".parse().map_err(|e| format!("{e}"))?),
            ..Default::default()
        };
        let s = Settings::resolve(&common, &serve)?;
        assert_eq!(s.database_url, "postgres://file/db");
        assert!(
            s.artifacts_url.starts_with("file:///"),
            "{}",
            s.artifacts_url
        );
        assert!(
            s.artifacts_url.ends_with("/artifacts"),
            "{}",
            s.artifacts_url
        );
        assert_eq!(s.listen.port(), 1234);
        assert_eq!(s.default_instance, "default");
        assert_eq!(s.max_body_bytes, molts_http_api::DEFAULT_MAX_BODY_BYTES);

        // The artifacts store: molts.toml, then the flag (or MOLTS_ARTIFACTS_URL) over it.
        std::fs::write(&path, "artifacts_url = \"s3://bucket/molts\"\n")
            .map_err(|e| e.to_string())?;
        assert_eq!(
            Settings::resolve(&common, &serve)?.artifacts_url,
            "s3://bucket/molts"
        );
        let flag = CommonOptions {
            artifacts_url: Some("file:///srv/artifacts".to_owned()),
            ..common.clone()
        };
        assert_eq!(
            Settings::resolve(&flag, &serve)?.artifacts_url,
            "file:///srv/artifacts"
        );

        std::fs::write(&path, "databse_url = \"typo\"\n").map_err(|e| e.to_string())?;
        assert!(Settings::resolve(&common, &ServeOptions::default()).is_err());
        Ok(())
    }
}
