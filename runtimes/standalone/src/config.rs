//! Configuration: flags beat `MOLTS_*` environment variables (clap reads both), which beat
//! `molts.toml`, which beats the defaults. The file is optional.
//!
//! The settings every runtime reads are parsed by core (`molts_core::gateway::Settings`), as on
//! Lambda and Workers: [`shared_lookup`] answers each by its `MOLTS_*` name from the flag (or
//! environment variable) first, then the file. The rest (database, artifacts, listen address,
//! log format, egress proxy, scheduler, SQLite checkpoints, threads) is the binary's own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use clap::{Args, ValueEnum};
use molts_core::gateway::settings as shared;
use molts_reqwest::EgressProxy;
use molts_sea_orm::StoreOptions;
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
    /// The URL agents and providers reach this molts at (`https://molts.example.com`): used in
    /// artifact links and in the callback URLs given to video providers.
    #[arg(long, env = "MOLTS_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// Hosts webhooks may target although they are internal (loopback, private), comma-separated.
    #[arg(long, env = "MOLTS_WEBHOOK_ALLOW_HOSTS", value_delimiter = ',')]
    pub(crate) webhook_allow_hosts: Option<Vec<String>>,
    /// An HTTP proxy (`http://host:port`) for the destinations molts does not trust — webhook
    /// URLs, tenants' own base URLs, providers' output URLs — which then resolves their names
    /// and must refuse internal addresses. Unset, they connect directly and molts refuses
    /// internal addresses itself.
    #[arg(long, env = "MOLTS_EGRESS_PROXY", hide_env_values = true)]
    pub(crate) egress_proxy: Option<String>,
    /// A bearer token that may read `GET /metrics` (besides an operator admin key), for a
    /// Prometheus that should hold no admin key.
    #[arg(long, env = "MOLTS_METRICS_TOKEN", hide_env_values = true)]
    pub(crate) metrics_token: Option<String>,
    /// Seconds between runs of the scheduled work (jobs, webhook deliveries, expired holds).
    #[arg(long, env = "MOLTS_SCHEDULE_SECONDS")]
    pub(crate) schedule_seconds: Option<u64>,
    /// Seconds after a provider accepts a job before its first status check (default 5); later
    /// checks back off, doubling.
    #[arg(long, env = "MOLTS_JOB_FIRST_CHECK_SECONDS")]
    pub(crate) job_first_check_seconds: Option<u64>,
    /// Longest wait between a job's status checks, in seconds (default 60).
    #[arg(long, env = "MOLTS_JOB_MAX_CHECK_SECONDS")]
    pub(crate) job_max_check_seconds: Option<u64>,
    /// Seconds a worker holds a job while it works on it; a job whose worker died is picked up
    /// again after this (default 120).
    #[arg(long, env = "MOLTS_JOB_LEASE_SECONDS")]
    pub(crate) job_lease_seconds: Option<u64>,
    /// Seconds after which an unfinished job fails with `timed_out` and is refunded (default
    /// 10800, three hours).
    #[arg(long, env = "MOLTS_JOB_DEADLINE_SECONDS")]
    pub(crate) job_deadline_seconds: Option<u64>,
    /// Submissions tried while every provider of a job is unavailable before it fails with
    /// `provider_unavailable` (default 5).
    #[arg(long, env = "MOLTS_JOB_SUBMIT_ATTEMPTS")]
    pub(crate) job_submit_attempts: Option<u32>,
    /// Items of the scheduled work (job steps, webhook deliveries, expired holds) worked on at
    /// once in a round (default 8).
    #[arg(long, env = "MOLTS_SCHEDULED_CONCURRENCY")]
    pub(crate) scheduled_concurrency: Option<usize>,
    /// Seconds after which a round of scheduled work starts no more items; the rest wait for
    /// the next round (default 30).
    #[arg(long, env = "MOLTS_SCHEDULED_ROUND_SECONDS")]
    pub(crate) scheduled_round_seconds: Option<u64>,
    /// Seconds one item of the scheduled work may run before it is cut and left for a later
    /// round (default 300).
    #[arg(long, env = "MOLTS_SCHEDULED_ITEM_SECONDS")]
    pub(crate) scheduled_item_seconds: Option<u64>,
    /// Days generated outputs (videos, renders, images, speech) are kept before the scheduled
    /// work deletes them (default 30; 0 keeps them forever). Uploads are never expired.
    #[arg(long, env = "MOLTS_ARTIFACT_RETENTION_DAYS")]
    pub(crate) artifact_retention_days: Option<u64>,
    /// Record every API request in the request log (default true).
    #[arg(long, env = "MOLTS_REQUEST_LOG")]
    pub(crate) request_log: Option<bool>,
    /// Keep each text request's last user message (cut at 1000 bytes) in the request log
    /// (default false).
    #[arg(long, env = "MOLTS_REQUEST_LOG_PROMPTS")]
    pub(crate) request_log_prompts: Option<bool>,
    /// Days request records are kept (default 30; 0 keeps them forever).
    #[arg(long, env = "MOLTS_REQUEST_LOG_RETENTION_DAYS")]
    pub(crate) request_log_retention_days: Option<u64>,
    /// Days a closed (settled or refunded) quota reservation is kept before the scheduled work
    /// forgets it; the usage counters keep what it charged (default 2; 0 forgets at the next
    /// round).
    #[arg(long, env = "MOLTS_RESERVATION_RETENTION_DAYS")]
    pub(crate) reservation_retention_days: Option<u64>,
    /// Seconds one webhook delivery attempt may take (default 10).
    #[arg(long, env = "MOLTS_WEBHOOK_TIMEOUT_SECONDS")]
    pub(crate) webhook_timeout_seconds: Option<u64>,
    /// On SQLite, milliseconds between background checkpoints of the write-ahead log (default
    /// 10): how long a commit waits to be durable against power loss, a little longer while
    /// every core is busy, as the checkpoints run at idle priority while the cores have idle
    /// time (a crash of molts itself loses nothing either way). 0 leaves checkpoints to SQLite,
    /// inside the commit that fills 1000 log pages.
    #[arg(long, env = "MOLTS_SQLITE_CHECKPOINT_MS")]
    pub(crate) sqlite_checkpoint_ms: Option<u64>,
    /// Threads serving requests (default: one per core). One is faster per request on a small
    /// machine whose cores other programs share (no hand-offs between threads); more give more
    /// throughput under concurrent load. See docs/BENCHMARKS.md.
    #[arg(long, env = "MOLTS_WORKER_THREADS")]
    pub(crate) worker_threads: Option<usize>,
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
    public_url: Option<String>,
    webhook_allow_hosts: Option<Vec<String>>,
    egress_proxy: Option<String>,
    metrics_token: Option<String>,
    schedule_seconds: Option<u64>,
    job_first_check_seconds: Option<u64>,
    job_max_check_seconds: Option<u64>,
    job_lease_seconds: Option<u64>,
    job_deadline_seconds: Option<u64>,
    job_submit_attempts: Option<u32>,
    scheduled_concurrency: Option<usize>,
    scheduled_round_seconds: Option<u64>,
    scheduled_item_seconds: Option<u64>,
    artifact_retention_days: Option<u64>,
    request_log: Option<bool>,
    request_log_prompts: Option<bool>,
    request_log_retention_days: Option<u64>,
    reservation_retention_days: Option<u64>,
    webhook_timeout_seconds: Option<u64>,
    sqlite_checkpoint_ms: Option<u64>,
    worker_threads: Option<usize>,
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) database_url: String,
    pub(crate) artifacts_url: String,
    pub(crate) log_format: LogFormat,
    pub(crate) listen: SocketAddr,
    /// The settings every runtime reads, parsed by core (its `Debug` hides the secrets).
    pub(crate) shared: shared::Settings,
    /// The largest request body, the HTTP adapter's default unless set.
    pub(crate) max_body_bytes: usize,
    /// The proxy the public-only clients send through, if the operator named one.
    pub(crate) egress_proxy: Option<EgressProxy>,
    /// The token `GET /metrics` also accepts (`MOLTS_METRICS_TOKEN`).
    pub(crate) metrics_token: Option<crate::metrics::MetricsToken>,
    pub(crate) schedule_every: std::time::Duration,
    /// How the database is opened.
    pub(crate) store: StoreOptions,
    /// The async runtime's worker threads; `None` for tokio's default (one per core).
    pub(crate) worker_threads: Option<usize>,
}

/// A value as the text core parses.
fn text<T: ToString>(value: Option<T>) -> Option<String> {
    value.map(|v| v.to_string())
}

/// The shared settings by their `MOLTS_*` names: the flag or environment variable (clap has
/// read both), else `molts.toml`. `HEYGEN_WEBHOOK_SECRET` has no flag: the environment only.
fn shared_lookup<'a>(
    serve: &'a ServeOptions,
    file: &'a FileConfig,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| match name {
        shared::ADMIN_TOKEN => serve.admin_token.clone().or(file.admin_token.clone()),
        shared::MAX_BODY_BYTES => text(serve.max_body_bytes.or(file.max_body_bytes)),
        shared::DEFAULT_INSTANCE => serve
            .default_instance
            .clone()
            .or(file.default_instance.clone()),
        shared::DEMO_PROVIDERS => text(serve.demo_providers.or(file.demo_providers)),
        shared::SECRET_KEY => serve.secret_key.clone().or(file.secret_key.clone()),
        shared::PUBLIC_URL => serve.public_url.clone().or(file.public_url.clone()),
        shared::WEBHOOK_ALLOW_HOSTS => serve
            .webhook_allow_hosts
            .clone()
            .or(file.webhook_allow_hosts.clone())
            .map(|hosts| hosts.join(",")),
        shared::WEBHOOK_TIMEOUT_SECONDS => text(
            serve
                .webhook_timeout_seconds
                .or(file.webhook_timeout_seconds),
        ),
        shared::JOB_FIRST_CHECK_SECONDS => text(
            serve
                .job_first_check_seconds
                .or(file.job_first_check_seconds),
        ),
        shared::JOB_MAX_CHECK_SECONDS => {
            text(serve.job_max_check_seconds.or(file.job_max_check_seconds))
        }
        shared::JOB_LEASE_SECONDS => text(serve.job_lease_seconds.or(file.job_lease_seconds)),
        shared::JOB_DEADLINE_SECONDS => {
            text(serve.job_deadline_seconds.or(file.job_deadline_seconds))
        }
        shared::JOB_SUBMIT_ATTEMPTS => text(serve.job_submit_attempts.or(file.job_submit_attempts)),
        shared::SCHEDULED_CONCURRENCY => {
            text(serve.scheduled_concurrency.or(file.scheduled_concurrency))
        }
        shared::SCHEDULED_ROUND_SECONDS => text(
            serve
                .scheduled_round_seconds
                .or(file.scheduled_round_seconds),
        ),
        shared::SCHEDULED_ITEM_SECONDS => {
            text(serve.scheduled_item_seconds.or(file.scheduled_item_seconds))
        }
        shared::ARTIFACT_RETENTION_DAYS => text(
            serve
                .artifact_retention_days
                .or(file.artifact_retention_days),
        ),
        shared::REQUEST_LOG => text(serve.request_log.or(file.request_log)),
        shared::REQUEST_LOG_PROMPTS => text(serve.request_log_prompts.or(file.request_log_prompts)),
        shared::REQUEST_LOG_RETENTION_DAYS => text(
            serve
                .request_log_retention_days
                .or(file.request_log_retention_days),
        ),
        shared::RESERVATION_RETENTION_DAYS => text(
            serve
                .reservation_retention_days
                .or(file.reservation_retention_days),
        ),
        shared::HEYGEN_WEBHOOK_SECRET => std::env::var(name).ok(),
        _ => None,
    }
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
        let shared = shared::Settings::from_lookup(shared_lookup(serve, &file))
            .map_err(|e| e.message().to_owned())?;
        let database_url = common
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let artifacts_url = match common.artifacts_url.clone().or(file.artifacts_url.clone()) {
            Some(url) => url,
            None => crate::artifacts::default_url(&database_url)?,
        };
        let store = StoreOptions {
            sqlite_checkpoint_every: match serve.sqlite_checkpoint_ms.or(file.sqlite_checkpoint_ms)
            {
                Some(0) => None,
                Some(ms) => Some(Duration::from_millis(ms)),
                None => StoreOptions::default().sqlite_checkpoint_every,
            },
        };
        let worker_threads = match serve.worker_threads.or(file.worker_threads) {
            Some(0) => return Err("worker_threads must be at least 1".to_owned()),
            threads => threads,
        };
        Ok(Self {
            database_url,
            artifacts_url,
            log_format: common.log_format.or(file.log_format).unwrap_or_default(),
            listen: serve.listen.or(file.listen).unwrap_or(default_listen),
            max_body_bytes: shared
                .max_body_bytes
                .unwrap_or(molts_http_api::DEFAULT_MAX_BODY_BYTES),
            shared,
            egress_proxy: serve
                .egress_proxy
                .clone()
                .or(file.egress_proxy)
                .filter(|text| !text.trim().is_empty())
                .map(|text| EgressProxy::parse(&text).map_err(|e| e.message().to_owned()))
                .transpose()?,
            metrics_token: serve
                .metrics_token
                .clone()
                .or(file.metrics_token)
                .filter(|t| !t.trim().is_empty())
                .map(crate::metrics::MetricsToken::new)
                .transpose()?,
            schedule_every: std::time::Duration::from_secs(
                serve
                    .schedule_seconds
                    .or(file.schedule_seconds)
                    .unwrap_or(10)
                    .max(1),
            ),
            store,
            worker_threads,
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
        assert_eq!(s.shared.gateway.default_instance, "default");
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

    #[test]
    fn job_timing_comes_from_flags_over_the_file_over_core_defaults() -> Result<(), String> {
        let (path, common) = config_file("jobs")?;
        std::fs::write(
            &path,
            "job_deadline_seconds = 60\njob_lease_seconds = 0\njob_submit_attempts = 2\n",
        )
        .map_err(|e| e.to_string())?;
        let serve = ServeOptions {
            job_first_check_seconds: Some(2),
            job_deadline_seconds: Some(30),
            ..Default::default()
        };
        let timing = Settings::resolve(&common, &serve)?.shared.gateway.jobs;
        assert_eq!(timing.first_check, Duration::from_secs(2));
        assert_eq!(timing.deadline, Duration::from_secs(30));
        assert_eq!(timing.lease, Duration::from_secs(1), "at least a second");
        assert_eq!(timing.max_submit_attempts, 2);
        let default = molts_core::gateway::JobTiming::default();
        assert_eq!(timing.max_check_interval, default.max_check_interval);
        Ok(())
    }

    /// Every shared setting core reads has a flag (or environment variable) and a file key
    /// here: one left out of [`shared_lookup`] would silently keep its default.
    #[test]
    fn every_shared_setting_comes_from_a_flag_or_the_file() -> Result<(), String> {
        let file: FileConfig = toml::from_str(
            r#"
            admin_token = "a-file-operator-token-of-32-chars-or-more"
            max_body_bytes = 2048
            default_instance = "acme"
            demo_providers = false
            secret_key = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
            public_url = "https://molts.example.com"
            webhook_allow_hosts = ["127.0.0.1"]
            webhook_timeout_seconds = 3
            job_first_check_seconds = 2
            job_max_check_seconds = 30
            job_lease_seconds = 40
            job_deadline_seconds = 60
            job_submit_attempts = 2
            scheduled_concurrency = 4
            scheduled_round_seconds = 20
            scheduled_item_seconds = 90
            artifact_retention_days = 7
            request_log = true
            request_log_prompts = false
            request_log_retention_days = 14
            reservation_retention_days = 7
            "#,
        )
        .map_err(|e| e.to_string())?;
        let serve = ServeOptions::default();
        let lookup = shared_lookup(&serve, &file);
        for name in shared::SHARED_SETTINGS {
            if *name == shared::HEYGEN_WEBHOOK_SECRET {
                continue; // the environment only, like every provider's secret
            }
            assert!(lookup(name).is_some(), "{name} is not read from molts.toml");
        }
        let flags = ServeOptions {
            webhook_allow_hosts: Some(vec!["10.0.0.5".into(), "localhost".into()]),
            public_url: Some("https://flag.example.com".into()),
            ..Default::default()
        };
        let lookup = shared_lookup(&flags, &file);
        let s = shared::Settings::from_lookup(&lookup).map_err(|e| e.to_string())?;
        assert_eq!(s.gateway.webhooks.allowed_hosts, ["10.0.0.5", "localhost"]);
        assert_eq!(
            s.gateway.public_url.as_deref(),
            Some("https://flag.example.com"),
            "a flag beats the file"
        );
        assert_eq!(s.gateway.default_instance, "acme");
        assert_eq!(s.gateway.scheduled.concurrency, 4);
        assert_eq!(s.gateway.scheduled.item_deadline, Duration::from_secs(90));
        assert_eq!(
            s.gateway.reservation_retention,
            Duration::from_secs(7 * 24 * 3600)
        );
        Ok(())
    }

    /// A `molts.toml` path in a directory of its own (named for the test), and the options that
    /// read it.
    fn config_file(test: &str) -> Result<(std::path::PathBuf, CommonOptions), String> {
        let dir = std::env::temp_dir().join(format!("molts-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join("molts.toml");
        let common = CommonOptions {
            config: Some(path.clone()),
            ..Default::default()
        };
        Ok((path, common))
    }

    #[test]
    fn the_sqlite_checkpoint_interval_is_set_or_turned_off() -> Result<(), String> {
        let (path, common) = config_file("ckpt")?;
        let every = |serve: &ServeOptions| {
            Settings::resolve(&common, serve).map(|s| s.store.sqlite_checkpoint_every)
        };
        std::fs::write(&path, "").map_err(|e| e.to_string())?;
        let defaults = ServeOptions::default();
        assert_eq!(every(&defaults)?, Some(Duration::from_millis(10)));
        std::fs::write(&path, "sqlite_checkpoint_ms = 1000\n").map_err(|e| e.to_string())?;
        assert_eq!(every(&defaults)?, Some(Duration::from_secs(1)));
        let off = ServeOptions {
            sqlite_checkpoint_ms: Some(0),
            ..Default::default()
        };
        assert_eq!(every(&off)?, None, "0 leaves checkpoints to SQLite");
        Ok(())
    }

    #[test]
    fn worker_threads_come_from_a_flag_or_the_file_and_zero_is_refused() -> Result<(), String> {
        let (path, common) = config_file("workers")?;
        let threads =
            |serve: &ServeOptions| Settings::resolve(&common, serve).map(|s| s.worker_threads);
        std::fs::write(&path, "").map_err(|e| e.to_string())?;
        assert_eq!(threads(&ServeOptions::default())?, None, "tokio's default");
        std::fs::write(&path, "worker_threads = 1\n").map_err(|e| e.to_string())?;
        assert_eq!(threads(&ServeOptions::default())?, Some(1));
        let flag = ServeOptions {
            worker_threads: Some(4),
            ..Default::default()
        };
        assert_eq!(threads(&flag)?, Some(4), "a flag beats the file");
        let zero = ServeOptions {
            worker_threads: Some(0),
            ..Default::default()
        };
        let Err(error) = threads(&zero) else {
            return Err("zero worker threads must be refused".into());
        };
        assert!(error.contains("worker_threads"), "{error}");
        Ok(())
    }

    #[test]
    fn an_egress_proxy_is_checked_when_read_and_a_flag_beats_the_file() -> Result<(), String> {
        let (path, common) = config_file("egress")?;
        let proxy = |serve: &ServeOptions| {
            Settings::resolve(&common, serve).map(|s| s.egress_proxy.map(|p| p.shown()))
        };
        std::fs::write(&path, "").map_err(|e| e.to_string())?;
        assert_eq!(proxy(&ServeOptions::default())?, None, "direct by default");
        std::fs::write(
            &path,
            "egress_proxy = \"http://u:pw@egress.internal:4750\"\n",
        )
        .map_err(|e| e.to_string())?;
        assert_eq!(
            proxy(&ServeOptions::default())?.as_deref(),
            Some("http://egress.internal:4750")
        );
        let bad = ServeOptions {
            egress_proxy: Some("socks5://u:pw@egress.internal:1080".into()),
            ..Default::default()
        };
        let Err(error) = proxy(&bad) else {
            return Err("a socks proxy must be refused at start".into());
        };
        assert!(error.contains("MOLTS_EGRESS_PROXY"), "{error}");
        assert!(!error.contains("pw@"), "the password is shown: {error}");
        Ok(())
    }
}
