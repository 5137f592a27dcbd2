//! The settings every runtime reads, parsed in one place: the standalone binary (flags, then the
//! environment, then `molts.toml`), Lambda (the environment) and Workers (`[vars]` and secrets)
//! each hand [`Settings::from_lookup`] a function answering a setting by its `MOLTS_*` name, so
//! a setting cannot work on one runtime and be forgotten on another, and a bad value fails the
//! start with a message naming the variable.
//!
//! What a runtime reads beyond these (its database URL, listen address, log format, egress
//! proxy) is its own and stays in its own crate; docs/CONFIGURATION.md says which runtime reads
//! what, and a test here keeps its table in step with [`SHARED_SETTINGS`].

use std::time::Duration;

use crate::error::{Error, Result};
use crate::sealed::SecretBox;

use super::{GatewayConfig, JobTiming, RequestLogSettings, ScheduledSettings, WebhookSettings};

/// `MOLTS_ADMIN_TOKEN`: the operator token.
pub const ADMIN_TOKEN: &str = "MOLTS_ADMIN_TOKEN";
/// `MOLTS_MAX_BODY_BYTES`: the largest request body accepted.
pub const MAX_BODY_BYTES: &str = "MOLTS_MAX_BODY_BYTES";
/// `MOLTS_DEFAULT_INSTANCE`: where registrations without an instance go.
pub const DEFAULT_INSTANCE: &str = "MOLTS_DEFAULT_INSTANCE";
/// `MOLTS_DEMO_PROVIDERS`: serve the offline demo models.
pub const DEMO_PROVIDERS: &str = "MOLTS_DEMO_PROVIDERS";
/// `MOLTS_SECRET_KEY`: seals tenants' own provider keys.
pub const SECRET_KEY: &str = "MOLTS_SECRET_KEY";
/// `MOLTS_PUBLIC_URL`: where agents and providers reach this molts.
pub const PUBLIC_URL: &str = "MOLTS_PUBLIC_URL";
/// `MOLTS_WEBHOOK_ALLOW_HOSTS`: internal hosts outbound requests may reach anyway.
pub const WEBHOOK_ALLOW_HOSTS: &str = "MOLTS_WEBHOOK_ALLOW_HOSTS";
/// `MOLTS_WEBHOOK_TIMEOUT_SECONDS`: how long one webhook attempt may take.
pub const WEBHOOK_TIMEOUT_SECONDS: &str = "MOLTS_WEBHOOK_TIMEOUT_SECONDS";
/// `MOLTS_JOB_FIRST_CHECK_SECONDS`: the first status check of a job.
pub const JOB_FIRST_CHECK_SECONDS: &str = "MOLTS_JOB_FIRST_CHECK_SECONDS";
/// `MOLTS_JOB_MAX_CHECK_SECONDS`: the longest wait between a job's checks.
pub const JOB_MAX_CHECK_SECONDS: &str = "MOLTS_JOB_MAX_CHECK_SECONDS";
/// `MOLTS_JOB_LEASE_SECONDS`: how long a worker holds a job.
pub const JOB_LEASE_SECONDS: &str = "MOLTS_JOB_LEASE_SECONDS";
/// `MOLTS_JOB_DEADLINE_SECONDS`: when an unfinished job times out.
pub const JOB_DEADLINE_SECONDS: &str = "MOLTS_JOB_DEADLINE_SECONDS";
/// `MOLTS_JOB_SUBMIT_ATTEMPTS`: submissions tried while every provider is down.
pub const JOB_SUBMIT_ATTEMPTS: &str = "MOLTS_JOB_SUBMIT_ATTEMPTS";
/// `MOLTS_SCHEDULED_CONCURRENCY`: items of the scheduled work worked on at once.
pub const SCHEDULED_CONCURRENCY: &str = "MOLTS_SCHEDULED_CONCURRENCY";
/// `MOLTS_SCHEDULED_ROUND_SECONDS`: after this, a round of scheduled work starts no item.
pub const SCHEDULED_ROUND_SECONDS: &str = "MOLTS_SCHEDULED_ROUND_SECONDS";
/// `MOLTS_SCHEDULED_ITEM_SECONDS`: the longest one item of the scheduled work may run.
pub const SCHEDULED_ITEM_SECONDS: &str = "MOLTS_SCHEDULED_ITEM_SECONDS";
/// `MOLTS_ARTIFACT_RETENTION_DAYS`: how long generated outputs are kept (0: forever).
pub const ARTIFACT_RETENTION_DAYS: &str = "MOLTS_ARTIFACT_RETENTION_DAYS";
/// `MOLTS_REQUEST_LOG`: log every API request.
pub const REQUEST_LOG: &str = "MOLTS_REQUEST_LOG";
/// `MOLTS_REQUEST_LOG_PROMPTS`: keep prompts (truncated) in the request log.
pub const REQUEST_LOG_PROMPTS: &str = "MOLTS_REQUEST_LOG_PROMPTS";
/// `MOLTS_REQUEST_LOG_RETENTION_DAYS`: how long request records are kept (0: forever).
pub const REQUEST_LOG_RETENTION_DAYS: &str = "MOLTS_REQUEST_LOG_RETENTION_DAYS";
/// `MOLTS_RESERVATION_RETENTION_DAYS`: how long closed quota reservations are kept.
pub const RESERVATION_RETENTION_DAYS: &str = "MOLTS_RESERVATION_RETENTION_DAYS";
/// `HEYGEN_WEBHOOK_SECRET`: the secret HeyGen signs its account webhooks with.
pub const HEYGEN_WEBHOOK_SECRET: &str = "HEYGEN_WEBHOOK_SECRET";

/// Every setting [`Settings::from_lookup`] reads: the same on every runtime.
pub const SHARED_SETTINGS: &[&str] = &[
    ADMIN_TOKEN,
    MAX_BODY_BYTES,
    DEFAULT_INSTANCE,
    DEMO_PROVIDERS,
    SECRET_KEY,
    PUBLIC_URL,
    WEBHOOK_ALLOW_HOSTS,
    WEBHOOK_TIMEOUT_SECONDS,
    JOB_FIRST_CHECK_SECONDS,
    JOB_MAX_CHECK_SECONDS,
    JOB_LEASE_SECONDS,
    JOB_DEADLINE_SECONDS,
    JOB_SUBMIT_ATTEMPTS,
    SCHEDULED_CONCURRENCY,
    SCHEDULED_ROUND_SECONDS,
    SCHEDULED_ITEM_SECONDS,
    ARTIFACT_RETENTION_DAYS,
    REQUEST_LOG,
    REQUEST_LOG_PROMPTS,
    REQUEST_LOG_RETENTION_DAYS,
    RESERVATION_RETENTION_DAYS,
    HEYGEN_WEBHOOK_SECRET,
];

/// The shared settings, parsed and checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// What shapes the gateway (default instance, public URL, job pacing, webhooks).
    pub gateway: GatewayConfig,
    /// `MOLTS_ADMIN_TOKEN`, if set. The standalone binary generates one without it; Lambda and
    /// Workers, with no terminal to show one on, refuse to start.
    pub admin_token: Option<String>,
    /// `MOLTS_MAX_BODY_BYTES`, if set (the HTTP adapter's default otherwise).
    pub max_body_bytes: Option<usize>,
    /// `MOLTS_DEMO_PROVIDERS` (default on): serve the offline demo models.
    pub demo_providers: bool,
    /// `MOLTS_SECRET_KEY`, checked to be a 32-byte key (unset: tenants cannot store keys).
    pub secret_key: Option<String>,
    /// `HEYGEN_WEBHOOK_SECRET`: accept HeyGen account webhooks signed with it.
    pub heygen_webhook_secret: Option<String>,
}

impl Default for Settings {
    /// What every runtime runs with when nothing is set.
    fn default() -> Self {
        Self {
            gateway: GatewayConfig::default(),
            admin_token: None,
            max_body_bytes: None,
            demo_providers: true,
            secret_key: None,
            heygen_webhook_secret: None,
        }
    }
}

impl std::fmt::Debug for Settings {
    /// Never prints a token, a key or a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "***");
        f.debug_struct("Settings")
            .field("gateway", &self.gateway)
            .field("admin_token", &hidden(&self.admin_token))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("demo_providers", &self.demo_providers)
            .field("secret_key", &hidden(&self.secret_key))
            .field(
                "heygen_webhook_secret",
                &hidden(&self.heygen_webhook_secret),
            )
            .finish()
    }
}

/// The lookup with blank values read as unset: deployment templates often render an unset
/// optional parameter as "", and an empty secret must never key an HMAC.
struct Lookup<F>(F);

impl<F: Fn(&str) -> Option<String>> Lookup<F> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// A whole number, or `None` when unset.
    fn number<T: std::str::FromStr>(&self, name: &'static str, what: &str) -> Result<Option<T>> {
        self.get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| Error::invalid(name, format!("{name} must be {what}, not '{v}'")))
            })
            .transpose()
    }

    /// Whole seconds, at least one, or `fallback` when unset.
    fn seconds(&self, name: &'static str, fallback: Duration) -> Result<Duration> {
        Ok(self
            .number::<u64>(name, "a whole number of seconds")?
            .map_or(fallback, |s| Duration::from_secs(s.max(1))))
    }

    /// Whole days as a retention window (`0`: keep forever), or `fallback` when unset.
    fn retention_days(
        &self,
        name: &'static str,
        fallback: Option<Duration>,
    ) -> Result<Option<Duration>> {
        Ok(match self.number::<u64>(name, "a whole number of days")? {
            None => fallback,
            Some(0) => None,
            Some(days) => Some(Duration::from_secs(days.saturating_mul(24 * 3600))),
        })
    }

    /// Whole days, zero allowed, or `fallback` when unset (a century at most: beyond that
    /// nothing would ever be forgotten anyway).
    fn days(&self, name: &'static str, fallback: Duration) -> Result<Duration> {
        const DAY: u64 = 24 * 60 * 60;
        Ok(self
            .number::<u64>(name, "a whole number of days")?
            .map_or(fallback, |d| Duration::from_secs(d.min(36_500) * DAY)))
    }

    fn flag(&self, name: &'static str, fallback: bool) -> Result<bool> {
        match self.get(name).as_deref() {
            None => Ok(fallback),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(Error::invalid(
                name,
                format!("{name} must be 'true' or 'false', not '{other}'"),
            )),
        }
    }
}

impl Settings {
    /// Reads every shared setting through `lookup` (a setting's value by its name, `None` when
    /// unset; a blank value counts as unset).
    ///
    /// # Errors
    /// `Invalid`, with the variable as the parameter and a message naming it, for a value that
    /// is not of its kind.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = Lookup(lookup);
        let secret_key = get.get(SECRET_KEY);
        if let Some(text) = &secret_key {
            SecretBox::from_text(text).map_err(|_| {
                Error::invalid(
                    SECRET_KEY,
                    format!(
                        "{SECRET_KEY} must be 32 bytes, as 64 hex digits or base64 \
                         (`openssl rand -hex 32` makes one)"
                    ),
                )
            })?;
        }
        Ok(Self {
            gateway: GatewayConfig::read(&get)?,
            admin_token: get.get(ADMIN_TOKEN),
            max_body_bytes: get.number(MAX_BODY_BYTES, "a number of bytes")?,
            demo_providers: get.flag(DEMO_PROVIDERS, true)?,
            secret_key,
            heygen_webhook_secret: get.get(HEYGEN_WEBHOOK_SECRET),
        })
    }

    /// The box sealing tenants' provider keys, when `MOLTS_SECRET_KEY` is set.
    pub fn secret_box(&self) -> Result<Option<SecretBox>> {
        self.secret_key
            .as_deref()
            .map(SecretBox::from_text)
            .transpose()
    }
}

impl GatewayConfig {
    /// The gateway's part of the shared settings (see [`Settings::from_lookup`]), over the
    /// defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Self::read(&Lookup(lookup))
    }

    fn read<F: Fn(&str) -> Option<String>>(get: &Lookup<F>) -> Result<Self> {
        let defaults = Self::default();
        let public_url = get
            .get(PUBLIC_URL)
            .map(|v| match url::Url::parse(&v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(v),
                _ => Err(Error::invalid(
                    PUBLIC_URL,
                    format!(
                        "{PUBLIC_URL} must be the absolute http(s) URL molts is reached at \
                         (https://molts.example.com), not '{v}'"
                    ),
                )),
            })
            .transpose()?;
        let allowed_hosts = get
            .get(WEBHOOK_ALLOW_HOSTS)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let job = JobTiming::default();
        let jobs = JobTiming {
            first_check: get.seconds(JOB_FIRST_CHECK_SECONDS, job.first_check)?,
            max_check_interval: get.seconds(JOB_MAX_CHECK_SECONDS, job.max_check_interval)?,
            lease: get.seconds(JOB_LEASE_SECONDS, job.lease)?,
            deadline: get.seconds(JOB_DEADLINE_SECONDS, job.deadline)?,
            max_submit_attempts: get
                .number::<u32>(JOB_SUBMIT_ATTEMPTS, "a whole number")?
                .map_or(job.max_submit_attempts, |n| n.max(1)),
        };
        let webhooks = WebhookSettings {
            allowed_hosts,
            timeout: get.seconds(WEBHOOK_TIMEOUT_SECONDS, defaults.webhooks.timeout)?,
            ..defaults.webhooks.clone()
        };
        let scheduled = ScheduledSettings {
            concurrency: get
                .number::<usize>(SCHEDULED_CONCURRENCY, "a whole number")?
                .map_or(defaults.scheduled.concurrency, |n| n.max(1)),
            round_budget: get.seconds(SCHEDULED_ROUND_SECONDS, defaults.scheduled.round_budget)?,
            item_deadline: get.seconds(SCHEDULED_ITEM_SECONDS, defaults.scheduled.item_deadline)?,
        };
        let artifact_retention =
            match get.number::<u64>(ARTIFACT_RETENTION_DAYS, "a whole number of days")? {
                None => defaults.artifact_retention,
                Some(0) => None,
                Some(days) => Some(Duration::from_secs(days.saturating_mul(24 * 3600))),
            };
        let request_log = RequestLogSettings {
            enabled: get.flag(REQUEST_LOG, defaults.request_log.enabled)?,
            keep_prompts: get.flag(REQUEST_LOG_PROMPTS, defaults.request_log.keep_prompts)?,
            retention: get
                .retention_days(REQUEST_LOG_RETENTION_DAYS, defaults.request_log.retention)?,
        };
        Ok(Self {
            default_instance: get
                .get(DEFAULT_INSTANCE)
                .unwrap_or_else(|| defaults.default_instance.clone()),
            public_url,
            jobs,
            webhooks,
            scheduled,
            artifact_retention,
            request_log,
            reservation_retention: get
                .days(RESERVATION_RETENTION_DAYS, defaults.reservation_retention)?,
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn nothing_set_is_the_defaults() -> Result<()> {
        assert_eq!(read(&[])?, Settings::default());
        assert_eq!(
            read(&[(DEFAULT_INSTANCE, " "), (HEYGEN_WEBHOOK_SECRET, "")])?,
            Settings::default(),
            "blank values count as unset"
        );
        Ok(())
    }

    #[test]
    fn every_shared_setting_is_read() -> Result<()> {
        let key = "5e".repeat(32);
        let s = read(&[
            (ADMIN_TOKEN, "an-operator-token-of-at-least-32-chars"),
            (MAX_BODY_BYTES, "2048"),
            (DEFAULT_INSTANCE, "acme"),
            (DEMO_PROVIDERS, "false"),
            (SECRET_KEY, &key),
            (PUBLIC_URL, "https://molts.example.com"),
            (WEBHOOK_ALLOW_HOSTS, "127.0.0.1, localhost,,"),
            (WEBHOOK_TIMEOUT_SECONDS, "3"),
            (JOB_FIRST_CHECK_SECONDS, "2"),
            (JOB_MAX_CHECK_SECONDS, "30"),
            (JOB_LEASE_SECONDS, "0"),
            (JOB_DEADLINE_SECONDS, "60"),
            (JOB_SUBMIT_ATTEMPTS, "2"),
            (SCHEDULED_CONCURRENCY, "3"),
            (SCHEDULED_ROUND_SECONDS, "20"),
            (SCHEDULED_ITEM_SECONDS, "90"),
            (ARTIFACT_RETENTION_DAYS, "7"),
            (REQUEST_LOG, "false"),
            (REQUEST_LOG_PROMPTS, "true"),
            (REQUEST_LOG_RETENTION_DAYS, "0"),
            (RESERVATION_RETENTION_DAYS, "0"),
            (HEYGEN_WEBHOOK_SECRET, "hg-secret"),
        ])?;
        assert_eq!(
            s.admin_token.as_deref(),
            Some("an-operator-token-of-at-least-32-chars")
        );
        assert_eq!(s.max_body_bytes, Some(2048));
        assert!(!s.demo_providers);
        assert_eq!(s.secret_key.as_deref(), Some(key.as_str()));
        assert!(s.secret_box()?.is_some());
        assert_eq!(s.heygen_webhook_secret.as_deref(), Some("hg-secret"));
        let g = &s.gateway;
        assert_eq!(g.default_instance, "acme");
        assert_eq!(g.public_url.as_deref(), Some("https://molts.example.com"));
        assert_eq!(g.webhooks.allowed_hosts, ["127.0.0.1", "localhost"]);
        assert_eq!(g.webhooks.timeout, Duration::from_secs(3));
        assert_eq!(g.jobs.first_check, Duration::from_secs(2));
        assert_eq!(g.jobs.max_check_interval, Duration::from_secs(30));
        assert_eq!(g.jobs.lease, Duration::from_secs(1), "at least a second");
        assert_eq!(g.jobs.deadline, Duration::from_secs(60));
        assert_eq!(g.jobs.max_submit_attempts, 2);
        assert_eq!(g.scheduled.concurrency, 3);
        assert_eq!(g.scheduled.round_budget, Duration::from_secs(20));
        assert_eq!(g.scheduled.item_deadline, Duration::from_secs(90));
        assert_eq!(
            g.artifact_retention,
            Some(Duration::from_secs(7 * 24 * 3600))
        );
        assert_eq!(
            read(&[(ARTIFACT_RETENTION_DAYS, "0")])?
                .gateway
                .artifact_retention,
            None,
            "0 keeps outputs forever"
        );
        assert_eq!(
            g.request_log,
            RequestLogSettings {
                enabled: false,
                keep_prompts: true,
                retention: None
            }
        );
        assert_eq!(g.reservation_retention, Duration::ZERO, "zero is allowed");
        let week = read(&[(RESERVATION_RETENTION_DAYS, "7")])?;
        assert_eq!(
            week.gateway.reservation_retention,
            Duration::from_secs(7 * 24 * 3600)
        );
        Ok(())
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_variable() -> std::result::Result<(), String> {
        for (name, value) in [
            (MAX_BODY_BYTES, "1MB"),
            (DEMO_PROVIDERS, "yes"),
            (SECRET_KEY, "too-short"),
            (PUBLIC_URL, "molts.example.com"),
            (PUBLIC_URL, "ftp://molts.example.com"),
            (WEBHOOK_TIMEOUT_SECONDS, "ten"),
            (JOB_FIRST_CHECK_SECONDS, "-1"),
            (JOB_MAX_CHECK_SECONDS, "1.5"),
            (JOB_LEASE_SECONDS, "2m"),
            (JOB_DEADLINE_SECONDS, "forever"),
            (JOB_SUBMIT_ATTEMPTS, "many"),
            (SCHEDULED_CONCURRENCY, "lots"),
            (SCHEDULED_ITEM_SECONDS, "-5"),
            (ARTIFACT_RETENTION_DAYS, "30d"),
            (REQUEST_LOG, "on"),
            (REQUEST_LOG_RETENTION_DAYS, "-1"),
            (RESERVATION_RETENTION_DAYS, "1.5"),
        ] {
            let Err(e) = read(&[(name, value)]) else {
                return Err(format!("{name}={value} was accepted"));
            };
            assert_eq!(e.param(), Some(name), "{name}={value}: {e}");
            assert!(e.message().starts_with(name), "{name}={value}: {e}");
        }
        Ok(())
    }

    #[test]
    fn secrets_never_reach_debug_output() -> Result<()> {
        let key = "5e".repeat(32);
        let s = read(&[
            (ADMIN_TOKEN, "an-operator-token-of-at-least-32-chars"),
            (SECRET_KEY, &key),
            (HEYGEN_WEBHOOK_SECRET, "hg-secret-value"),
        ])?;
        let shown = format!("{s:?}");
        for secret in [
            "an-operator-token-of-at-least-32-chars",
            key.as_str(),
            "hg-secret-value",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        Ok(())
    }

    /// docs/CONFIGURATION.md's table of shared settings names each one, so the doc cannot lose
    /// one or keep one that no runtime reads.
    #[test]
    fn the_configuration_doc_lists_every_shared_setting() {
        let doc = include_str!("../../../docs/CONFIGURATION.md");
        let (_, shared) = doc
            .split_once("## Settings every runtime reads")
            .unwrap_or_default();
        let table: Vec<&str> = shared
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .collect();
        for name in SHARED_SETTINGS {
            assert!(
                table.iter().any(|row| row.contains(&format!("`{name}`"))),
                "docs/CONFIGURATION.md's shared table lacks {name}"
            );
        }
        let rows = table.len().saturating_sub(2);
        assert_eq!(
            rows,
            SHARED_SETTINGS.len(),
            "docs/CONFIGURATION.md's shared table has {rows} rows"
        );
    }
}
