//! Configuration from environment variables only: a Lambda function has no flags and no config
//! file. The shared `MOLTS_*` settings are parsed by core
//! (`molts_core::gateway::Settings::from_lookup`), as on every runtime; what is Lambda's own is
//! read here: the database and artifacts URLs, the log format and the egress proxy, and that
//! the database URL and the admin token are required.

use molts_core::gateway::Settings as Shared;

/// Log output format (`MOLTS_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line, which CloudWatch Logs Insights reads field by field.
    Json,
}

/// Everything the function reads at a cold start.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// `MOLTS_DATABASE_URL`: `postgres://…` (any number of concurrent instances) or
    /// `sqlite:///mnt/efs/molts.db?mode=rwc` (one instance at a time).
    pub database_url: String,
    /// The settings every runtime reads (its `Debug` hides the secrets).
    pub shared: Shared,
    /// `MOLTS_ADMIN_TOKEN`: the operator token, at least 32 characters; required.
    pub admin_token: String,
    /// `MOLTS_MAX_BODY_BYTES`: largest request body accepted.
    pub max_body_bytes: usize,
    /// `MOLTS_LOG_FORMAT`: `human` or `json`.
    pub log_format: LogFormat,
    /// `MOLTS_ARTIFACTS_URL`: where generated files and uploads go, `s3://bucket/prefix` on
    /// Lambda. Unset: a directory under /tmp, lost with the execution environment (a warning
    /// says so at every cold start).
    pub artifacts_url: Option<String>,
    /// `MOLTS_EGRESS_PROXY`: the proxy webhooks, tenants' base URLs and providers' output URLs
    /// go through, as given (checked at the cold start by `molts_reqwest::EgressProxy::parse`).
    pub egress_proxy: Option<String>,
}

impl std::fmt::Debug for Settings {
    /// Never prints the admin token or a database password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact(&self.database_url))
            .field("shared", &self.shared)
            .field("admin_token", &"***")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("log_format", &self.log_format)
            .field("artifacts_url", &self.artifacts_url.as_deref().map(redact))
            .field("egress_proxy", &self.egress_proxy.as_deref().map(redact))
            .finish()
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process environment. An empty
    /// value counts as unset: templates often render an unset optional parameter as "".
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let shared = Shared::from_lookup(&get).map_err(|e| e.message().to_owned())?;
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        // A default database would be a SQLite file in the instance's /tmp: every cold start
        // would begin with an empty catalogue and the agents registered so far would be gone.
        let database_url = get("MOLTS_DATABASE_URL").ok_or(
            "MOLTS_DATABASE_URL is not set; set it to postgres://user:password@host:5432/db \
             (or sqlite:///mnt/efs/molts.db?mode=rwc with one instance at a time)",
        )?;
        // Without a chosen token core would generate one, and on Lambda there is no terminal to
        // print it to: the operator would be locked out of /v1/admin/* with no way back in.
        let admin_token = shared.admin_token.clone().ok_or(
            "MOLTS_ADMIN_TOKEN is not set; on Lambda there is no terminal to show a generated \
             token on, so choose one (at least 32 characters, no spaces) and set it, ideally \
             from AWS Secrets Manager",
        )?;
        let log_format = match get("MOLTS_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(format!(
                    "MOLTS_LOG_FORMAT must be 'human' or 'json', not '{other}'"
                ));
            }
        };
        Ok(Self {
            database_url,
            admin_token,
            max_body_bytes: shared
                .max_body_bytes
                .unwrap_or(molts_http_api::DEFAULT_MAX_BODY_BYTES),
            log_format,
            artifacts_url: get("MOLTS_ARTIFACTS_URL"),
            egress_proxy: get("MOLTS_EGRESS_PROXY"),
            shared,
        })
    }
}

/// A database URL with any password replaced, fit for logs.
pub fn redact(url: &str) -> String {
    molts_core::secret::redact_url(url)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    const TOKEN: &str = "an-operator-token-of-at-least-32-chars";

    #[test]
    fn database_url_and_admin_token_are_required() {
        let no_token = settings(&[("MOLTS_DATABASE_URL", "postgres://u@h/db")]);
        assert!(matches!(&no_token, Err(e) if e.starts_with("MOLTS_ADMIN_TOKEN is not set")));
        let empty_token = settings(&[
            ("MOLTS_DATABASE_URL", "postgres://u@h/db"),
            ("MOLTS_ADMIN_TOKEN", "  "),
        ]);
        assert!(matches!(&empty_token, Err(e) if e.starts_with("MOLTS_ADMIN_TOKEN is not set")));
        let no_db = settings(&[("MOLTS_ADMIN_TOKEN", TOKEN)]);
        assert!(matches!(&no_db, Err(e) if e.starts_with("MOLTS_DATABASE_URL is not set")));
    }

    #[test]
    fn defaults_match_the_standalone_binary() -> Result<(), String> {
        let s = settings(&[
            ("MOLTS_DATABASE_URL", "postgres://u@h/db"),
            ("MOLTS_ADMIN_TOKEN", TOKEN),
            ("MOLTS_DEFAULT_INSTANCE", ""),
        ])?;
        assert_eq!(s.shared.gateway.default_instance, "default");
        assert_eq!(s.max_body_bytes, molts_http_api::DEFAULT_MAX_BODY_BYTES);
        assert_eq!(s.log_format, LogFormat::Human);
        assert!(s.shared.demo_providers);
        assert_eq!(s.artifacts_url, None);
        Ok(())
    }

    #[test]
    fn every_variable_is_read_and_checked() -> Result<(), String> {
        let s = settings(&[
            ("MOLTS_DATABASE_URL", "sqlite:///mnt/efs/molts.db?mode=rwc"),
            ("MOLTS_ADMIN_TOKEN", TOKEN),
            ("MOLTS_MAX_BODY_BYTES", "2048"),
            ("MOLTS_DEFAULT_INSTANCE", "acme"),
            ("MOLTS_LOG_FORMAT", "json"),
            ("MOLTS_DEMO_PROVIDERS", "false"),
            ("MOLTS_ARTIFACTS_URL", "s3://media/molts"),
            ("MOLTS_JOB_DEADLINE_SECONDS", "600"),
            ("MOLTS_WEBHOOK_TIMEOUT_SECONDS", "4"),
            ("MOLTS_PUBLIC_URL", "https://molts.example.com"),
        ])?;
        assert!(!s.shared.demo_providers);
        assert_eq!(s.artifacts_url.as_deref(), Some("s3://media/molts"));
        assert_eq!(s.max_body_bytes, 2048);
        let g = &s.shared.gateway;
        assert_eq!(g.default_instance, "acme");
        assert_eq!(g.jobs.deadline, std::time::Duration::from_secs(600));
        assert_eq!(g.webhooks.timeout, std::time::Duration::from_secs(4));
        assert_eq!(g.public_url.as_deref(), Some("https://molts.example.com"));
        assert_eq!(s.log_format, LogFormat::Json);
        let bad_size = settings(&[
            ("MOLTS_DATABASE_URL", "postgres://u@h/db"),
            ("MOLTS_ADMIN_TOKEN", TOKEN),
            ("MOLTS_MAX_BODY_BYTES", "1MB"),
        ]);
        assert!(bad_size.is_err());
        let bad_format = settings(&[
            ("MOLTS_DATABASE_URL", "postgres://u@h/db"),
            ("MOLTS_ADMIN_TOKEN", TOKEN),
            ("MOLTS_LOG_FORMAT", "yaml"),
        ]);
        assert!(bad_format.is_err());
        let bad_demo = settings(&[
            ("MOLTS_DATABASE_URL", "postgres://u@h/db"),
            ("MOLTS_ADMIN_TOKEN", TOKEN),
            ("MOLTS_DEMO_PROVIDERS", "yes"),
        ]);
        assert!(bad_demo.is_err());
        Ok(())
    }

    #[test]
    fn secrets_never_reach_debug_output() -> Result<(), String> {
        let s = settings(&[
            ("MOLTS_DATABASE_URL", "postgres://u:hunter2@h/db"),
            ("MOLTS_ADMIN_TOKEN", TOKEN),
            ("MOLTS_SECRET_KEY", "5e".repeat(32).as_str()),
        ])?;
        let shown = format!("{s:?}");
        assert!(!shown.contains(&"5e".repeat(32)), "{shown}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://u:***@h/db"), "{shown}");
        Ok(())
    }
}
