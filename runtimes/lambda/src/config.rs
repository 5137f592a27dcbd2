//! Configuration from environment variables only: a Lambda function has no flags and no config
//! file. The names are the standalone binary's (`MOLTS_*`), so one set of docs covers both; the
//! differences are that the database URL and the admin token are required here.

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
    /// `MOLTS_ADMIN_TOKEN`: the operator token, at least 32 characters.
    pub admin_token: String,
    /// `MOLTS_MAX_BODY_BYTES`: largest request body accepted.
    pub max_body_bytes: usize,
    /// `MOLTS_DEFAULT_INSTANCE`: the instance registrations without an `instance` field join.
    pub default_instance: String,
    /// `MOLTS_LOG_FORMAT`: `human` or `json`.
    pub log_format: LogFormat,
    /// `MOLTS_DEMO_PROVIDERS`: serve the offline `demo` models (on by default, as standalone).
    pub demo_providers: bool,
    /// `MOLTS_SECRET_KEY`: seals tenants' own provider keys at rest (unset: none can be stored).
    pub secret_key: Option<String>,
    /// `MOLTS_ARTIFACTS_URL`: where generated files and uploads go, `s3://bucket/prefix` on
    /// Lambda. Unset: a directory under /tmp, lost with the execution environment (a warning
    /// says so at every cold start).
    pub artifacts_url: Option<String>,
}

impl std::fmt::Debug for Settings {
    /// Never prints the admin token or a database password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact(&self.database_url))
            .field("admin_token", &"***")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("default_instance", &self.default_instance)
            .field("log_format", &self.log_format)
            .field("demo_providers", &self.demo_providers)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("artifacts_url", &self.artifacts_url.as_deref().map(redact))
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
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        // A default database would be a SQLite file in the instance's /tmp: every cold start
        // would begin with an empty catalogue and the agents registered so far would be gone.
        let database_url = get("MOLTS_DATABASE_URL").ok_or(
            "MOLTS_DATABASE_URL is not set; set it to postgres://user:password@host:5432/db \
             (or sqlite:///mnt/efs/molts.db?mode=rwc with one instance at a time)",
        )?;
        // Without a chosen token core would generate one, and on Lambda there is no terminal to
        // print it to: the operator would be locked out of /v1/admin/* with no way back in.
        let admin_token = get("MOLTS_ADMIN_TOKEN").ok_or(
            "MOLTS_ADMIN_TOKEN is not set; on Lambda there is no terminal to show a generated \
             token on, so choose one (at least 32 characters, no spaces) and set it, ideally \
             from AWS Secrets Manager",
        )?;
        let max_body_bytes = match get("MOLTS_MAX_BODY_BYTES") {
            None => molts_http_api::DEFAULT_MAX_BODY_BYTES,
            Some(v) => v.trim().parse().map_err(|_| {
                format!("MOLTS_MAX_BODY_BYTES must be a number of bytes, not '{v}'")
            })?,
        };
        let log_format = match get("MOLTS_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(format!(
                    "MOLTS_LOG_FORMAT must be 'human' or 'json', not '{other}'"
                ));
            }
        };
        let demo_providers = match get("MOLTS_DEMO_PROVIDERS").as_deref().map(str::trim) {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(format!(
                    "MOLTS_DEMO_PROVIDERS must be 'true' or 'false', not '{other}'"
                ));
            }
        };
        Ok(Self {
            database_url,
            admin_token,
            max_body_bytes,
            default_instance: get("MOLTS_DEFAULT_INSTANCE").unwrap_or_else(|| "default".to_owned()),
            log_format,
            demo_providers,
            secret_key: get("MOLTS_SECRET_KEY"),
            artifacts_url: get("MOLTS_ARTIFACTS_URL"),
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
        assert_eq!(s.default_instance, "default");
        assert_eq!(s.max_body_bytes, molts_http_api::DEFAULT_MAX_BODY_BYTES);
        assert_eq!(s.log_format, LogFormat::Human);
        assert!(s.demo_providers);
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
        ])?;
        assert!(!s.demo_providers);
        assert_eq!(s.artifacts_url.as_deref(), Some("s3://media/molts"));
        assert_eq!(s.max_body_bytes, 2048);
        assert_eq!(s.default_instance, "acme");
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
