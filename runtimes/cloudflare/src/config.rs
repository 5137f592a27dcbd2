//! Settings from the Worker's environment: `[vars]` in wrangler.toml and secrets set with
//! `wrangler secret put`. The names are the standalone binary's (`MOLTS_*`), so one set of docs
//! covers every runtime; the database, object store and limiter are bindings, not settings.

/// Everything the Worker reads when an isolate starts.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// `MOLTS_ADMIN_TOKEN`: the operator token, at least 32 characters (a secret).
    pub admin_token: String,
    /// `MOLTS_MAX_BODY_BYTES`: largest request body accepted.
    pub max_body_bytes: usize,
    /// `MOLTS_DEFAULT_INSTANCE`: the instance registrations without an `instance` field join.
    pub default_instance: String,
    /// `MOLTS_DEMO_PROVIDERS`: serve the offline `demo` models (on by default, as standalone).
    pub demo_providers: bool,
    /// `MOLTS_SECRET_KEY`: seals tenants' own provider keys at rest (unset: none can be stored).
    pub secret_key: Option<String>,
}

impl std::fmt::Debug for Settings {
    /// Never prints the admin token or the sealing key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("admin_token", &"***")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("default_instance", &self.default_instance)
            .field("demo_providers", &self.demo_providers)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Settings {
    /// Reads settings through `get` (the Worker's env, or a map in tests). An empty value counts
    /// as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        // Without a chosen token core would generate one, and a Worker has no terminal to show it
        // on: the operator would be locked out of /v1/admin/*.
        let admin_token = get("MOLTS_ADMIN_TOKEN").ok_or(
            "MOLTS_ADMIN_TOKEN is not set; choose one (at least 32 characters, no spaces) and set \
             it with `wrangler secret put MOLTS_ADMIN_TOKEN`",
        )?;
        let max_body_bytes = match get("MOLTS_MAX_BODY_BYTES") {
            None => molts_http_api::DEFAULT_MAX_BODY_BYTES,
            Some(v) => v.trim().parse().map_err(|_| {
                format!("MOLTS_MAX_BODY_BYTES must be a number of bytes, not '{v}'")
            })?,
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
            admin_token,
            max_body_bytes,
            default_instance: get("MOLTS_DEFAULT_INSTANCE").unwrap_or_else(|| "default".to_owned()),
            demo_providers,
            secret_key: get("MOLTS_SECRET_KEY"),
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
        assert_eq!(s.default_instance, "default");
        assert_eq!(s.max_body_bytes, molts_http_api::DEFAULT_MAX_BODY_BYTES);
        assert!(s.demo_providers);
        assert_eq!(s.secret_key, None);
        Ok(())
    }

    #[test]
    fn every_variable_is_read_and_checked() -> Result<(), String> {
        let s = settings(&[
            ("MOLTS_ADMIN_TOKEN", TOKEN),
            ("MOLTS_MAX_BODY_BYTES", "2048"),
            ("MOLTS_DEFAULT_INSTANCE", "acme"),
            ("MOLTS_DEMO_PROVIDERS", "false"),
            ("MOLTS_SECRET_KEY", "ab"),
        ])?;
        assert_eq!(s.max_body_bytes, 2048);
        assert_eq!(s.default_instance, "acme");
        assert!(!s.demo_providers);
        assert_eq!(s.secret_key.as_deref(), Some("ab"));
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
