//! Settings from the Worker's environment: `[vars]` in wrangler.toml and secrets set with
//! `wrangler secret put`. The shared `MOLTS_*` settings are parsed by core
//! (`molts_core::gateway::Settings::from_lookup`), exactly as on the other runtimes; what is
//! the Worker's own is that the admin token is required. The database, object store and
//! limiter are bindings, not settings.

use molts_core::gateway::Settings as Shared;

/// Everything the Worker reads when an isolate starts.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// The settings every runtime reads (its `Debug` hides the secrets).
    pub shared: Shared,
    /// `MOLTS_ADMIN_TOKEN`: the operator token, at least 32 characters (a secret); required.
    pub admin_token: String,
    /// `MOLTS_MAX_BODY_BYTES`, or the HTTP adapter's default.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for Settings {
    /// Never prints the admin token (nor, through core's `Debug`, any other secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("shared", &self.shared)
            .field("admin_token", &"***")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Settings {
    /// Reads settings through `get` (the Worker's env, or a map in tests). An empty value counts
    /// as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let shared = Shared::from_lookup(get).map_err(|e| e.message().to_owned())?;
        // Without a chosen token core would generate one, and a Worker has no terminal to show it
        // on: the operator would be locked out of /v1/admin/*.
        let admin_token = shared.admin_token.clone().ok_or(
            "MOLTS_ADMIN_TOKEN is not set; choose one (at least 32 characters, no spaces) and set \
             it with `wrangler secret put MOLTS_ADMIN_TOKEN`",
        )?;
        Ok(Self {
            max_body_bytes: shared
                .max_body_bytes
                .unwrap_or(molts_http_api::DEFAULT_MAX_BODY_BYTES),
            admin_token,
            shared,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TOKEN: &str = "an-operator-token-of-at-least-32-chars";

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn the_admin_token_is_required() {
        for vars in [&[][..], &[("MOLTS_ADMIN_TOKEN", " ")][..]] {
            let err = settings(vars).err().unwrap_or_default();
            assert!(
                err.contains("wrangler secret put MOLTS_ADMIN_TOKEN"),
                "{err}"
            );
        }
    }

    #[test]
    fn defaults_match_the_standalone_binary() -> Result<(), String> {
        let s = settings(&[("MOLTS_ADMIN_TOKEN", TOKEN), ("MOLTS_DEFAULT_INSTANCE", "")])?;
        assert_eq!(s.shared.gateway.default_instance, "default");
        assert_eq!(s.max_body_bytes, molts_http_api::DEFAULT_MAX_BODY_BYTES);
        assert!(s.shared.demo_providers);
        assert_eq!(s.shared.secret_key, None);
        Ok(())
    }

    #[test]
    fn every_variable_is_read_and_checked() -> Result<(), String> {
        let s = settings(&[
            ("MOLTS_ADMIN_TOKEN", TOKEN),
            ("MOLTS_MAX_BODY_BYTES", "2048"),
            ("MOLTS_DEFAULT_INSTANCE", "acme"),
            ("MOLTS_DEMO_PROVIDERS", "false"),
            ("MOLTS_SECRET_KEY", &"ab".repeat(32)),
            ("MOLTS_PUBLIC_URL", "https://molts.example.workers.dev"),
            ("MOLTS_WEBHOOK_ALLOW_HOSTS", "127.0.0.1"),
            ("MOLTS_JOB_FIRST_CHECK_SECONDS", "2"),
        ])?;
        assert_eq!(s.max_body_bytes, 2048);
        let g = &s.shared.gateway;
        assert_eq!(g.default_instance, "acme");
        assert_eq!(
            g.public_url.as_deref(),
            Some("https://molts.example.workers.dev")
        );
        assert_eq!(g.webhooks.allowed_hosts, ["127.0.0.1"]);
        assert_eq!(g.jobs.first_check, std::time::Duration::from_secs(2));
        assert!(!s.shared.demo_providers);
        assert_eq!(s.shared.secret_key, Some("ab".repeat(32)));
        assert!(
            settings(&[
                ("MOLTS_ADMIN_TOKEN", TOKEN),
                ("MOLTS_MAX_BODY_BYTES", "1MB")
            ])
            .is_err()
        );
        assert!(
            settings(&[
                ("MOLTS_ADMIN_TOKEN", TOKEN),
                ("MOLTS_DEMO_PROVIDERS", "yes")
            ])
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn secrets_never_reach_debug_output() -> Result<(), String> {
        let key = "5e".repeat(32);
        let s = settings(&[("MOLTS_ADMIN_TOKEN", TOKEN), ("MOLTS_SECRET_KEY", &key)])?;
        let shown = format!("{s:?}");
        assert!(!shown.contains(TOKEN) && !shown.contains(&key), "{shown}");
        Ok(())
    }
}
