//! The `molts` binary as an operator meets it: first start prints an admin token once, restarts
//! keep it, `molts migrate` and `molts admin …` work on the same database, SIGTERM stops it
//! cleanly.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{molts, serve, sqlite_url, wait_exit};

fn run_cli(args: &[&str]) -> Result<Value, String> {
    let out = molts()
        .args(args)
        .env_remove("MOLTS_ADMIN_TOKEN")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "molts {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn first_start_prints_a_working_admin_token_once() -> Result<(), String> {
    let (url, _dir) = sqlite_url()?;
    let server = serve(&url, None)?;
    let token = (0..200)
        .find_map(|_| {
            let line = server.stderr.recv_timeout(Duration::from_secs(10)).ok()?;
            line.trim()
                .starts_with("mla_")
                .then(|| line.trim().to_owned())
        })
        .ok_or("no admin token was printed on first start")?;
    let client = reqwest::blocking::Client::new();
    let whoami = client
        .get(format!("{}/v1/admin/whoami", server.base_url))
        .bearer_auth(&token)
        .send()
        .map_err(|e| e.to_string())?;
    assert_eq!(whoami.status(), 200);
    drop(server);

    // A restart on the same database generates nothing new and the token still works.
    let server = serve(&url, None)?;
    let whoami = client
        .get(format!("{}/v1/admin/whoami", server.base_url))
        .bearer_auth(&token)
        .send()
        .map_err(|e| e.to_string())?;
    assert_eq!(whoami.status(), 200);
    std::thread::sleep(Duration::from_millis(300));
    let printed_again = server
        .stderr
        .try_iter()
        .any(|l| l.trim().starts_with("mla_"));
    assert!(!printed_again, "a second token was printed on restart");
    // The token is never logged in the logs it did write.
    Ok(())
}

#[test]
fn migrate_and_admin_commands_work_on_the_database() -> Result<(), String> {
    let (url, dir) = sqlite_url()?;
    let status = molts()
        .args(["migrate", "--database-url", &url])
        .status()
        .map_err(|e| e.to_string())?;
    assert!(status.success());

    let tiers = run_cli(&["admin", "--database-url", &url, "tiers", "list"])?;
    let ids: Vec<&str> = tiers
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec!["enterprise", "free", "pro"]);
    // Without --artifacts-url, files go to artifacts/ beside the SQLite file.
    assert!(dir.path().join("artifacts").is_dir());

    let created = run_cli(&[
        "admin",
        "--database-url",
        &url,
        "agents",
        "create",
        "--name",
        "Cli Agent",
    ])?;
    let agent_id = created["agent"]["id"]
        .as_str()
        .ok_or("no agent id")?
        .to_owned();
    assert!(
        created["api_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("ml_"))
    );

    let moved = run_cli(&[
        "admin",
        "--database-url",
        &url,
        "agents",
        "set-tier",
        &agent_id,
        "pro",
    ])?;
    assert_eq!(moved["tier_id"], "pro");
    let suspended = run_cli(&[
        "admin",
        "--database-url",
        &url,
        "agents",
        "suspend",
        &agent_id,
    ])?;
    assert_eq!(suspended["status"], "suspended");

    let models = run_cli(&[
        "admin",
        "--database-url",
        &url,
        "models",
        "list",
        "--type",
        "image",
    ])?;
    let count = models.as_array().map_or(0, Vec::len);
    assert_eq!(
        count, 6,
        "seeded image models: dall-e-3, dall-e-2, ideogram-v2, ideogram-v3, nano-banana, demo-image"
    );

    let key = run_cli(&[
        "admin",
        "--database-url",
        &url,
        "keys",
        "create",
        "--name",
        "ops",
        "--instance",
        "default",
    ])?;
    assert!(
        key["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("mla_"))
    );
    assert_eq!(key["key"]["scope"]["instance_id"], "default");

    let bad = molts()
        .args([
            "admin",
            "--database-url",
            &url,
            "agents",
            "set-tier",
            &agent_id,
            "platinum",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("platinum"));
    Ok(())
}

/// `MOLTS_WORKER_THREADS` sets how many threads serve, counted in `/proc` by the name tokio
/// gives its workers (`tokio-rt-worker`; a tokio that renamed them fails this loudly, it cannot
/// pass by accident). Five differs from any default here.
#[cfg(target_os = "linux")]
#[test]
fn the_worker_thread_setting_is_how_many_threads_serve() -> Result<(), String> {
    let (url, _dir) = sqlite_url()?;
    let server = support::serve_with_env(&url, None, &[("MOLTS_WORKER_THREADS", "5")])?;
    let tasks = format!("/proc/{}/task", server.child.id());
    let count = || -> Result<usize, String> {
        let mut workers = 0;
        for task in std::fs::read_dir(&tasks).map_err(|e| e.to_string())? {
            let comm = task.map_err(|e| e.to_string())?.path().join("comm");
            if std::fs::read_to_string(comm).is_ok_and(|name| name.trim() == "tokio-rt-worker") {
                workers += 1;
            }
        }
        Ok(workers)
    };
    // tokio names its blocking-pool threads like its workers, and one a dependency started
    // (a file or name lookup at start) lingers for ten seconds after its work: wait for the
    // count to settle rather than read it once. Six workers would never settle at five.
    let mut workers = count()?;
    for _ in 0..80 {
        if workers == 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        workers = count()?;
    }
    assert_eq!(workers, 5, "worker threads in {tasks}");
    Ok(())
}

#[test]
fn sigterm_shuts_down_gracefully() -> Result<(), String> {
    let (url, _dir) = sqlite_url()?;
    let mut server = serve(&url, Some(support::ADMIN_TOKEN))?;
    let health =
        reqwest::blocking::get(format!("{}/health", server.base_url)).map_err(|e| e.to_string())?;
    assert_eq!(health.status(), 200);
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .map_err(|e| e.to_string())?;
    assert!(killed.success());
    let status = wait_exit(&mut server.child, Duration::from_secs(20))?;
    assert!(status.success(), "molts exited with {status} after SIGTERM");
    Ok(())
}

#[test]
fn a_bad_config_file_is_refused_clearly() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("molts.toml");
    std::fs::write(&path, "lisen = \"127.0.0.1:1\"\n").map_err(|e| e.to_string())?;
    let out = molts()
        .args(["migrate", "--config", &path.display().to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
    Ok(())
}

#[test]
fn logs_never_contain_a_key() -> Result<(), String> {
    let (url, _dir) = sqlite_url()?;
    let server = support::serve_with_env(
        &url,
        Some(support::ADMIN_TOKEN),
        &[("RUST_LOG", "debug"), ("MOLTS_LOG_FORMAT", "json")],
    )?;
    let client = reqwest::blocking::Client::new();
    let registered: Value = client
        .post(format!("{}/v1/agents/register", server.base_url))
        .json(&serde_json::json!({"name": "Logged", "soul_md": "hi"}))
        .send()
        .and_then(|r| r.json())
        .map_err(|e| e.to_string())?;
    let key = registered["api_key"].as_str().ok_or("no key")?.to_owned();
    for path in ["/v1/agents/me", "/v1/keys", "/v1/usage"] {
        let status = client
            .get(format!("{}{path}", server.base_url))
            .bearer_auth(&key)
            .send()
            .map_err(|e| e.to_string())?
            .status();
        assert_eq!(status, 200, "{path}");
    }
    let admin = client
        .get(format!("{}/v1/admin/agents", server.base_url))
        .bearer_auth(support::ADMIN_TOKEN)
        .send()
        .map_err(|e| e.to_string())?;
    assert_eq!(admin.status(), 200);
    std::thread::sleep(Duration::from_millis(500));
    let logs: Vec<String> = server.stderr.try_iter().collect();
    assert!(
        logs.iter().any(|l| l.contains("/v1/agents/me")),
        "requests are logged: {logs:?}"
    );
    assert!(
        logs.iter().all(|l| l.trim_start().starts_with('{')),
        "JSON log lines only"
    );
    for secret in [key.as_str(), &key[3..], support::ADMIN_TOKEN] {
        assert!(
            !logs.iter().any(|l| l.contains(secret)),
            "a secret reached the logs"
        );
    }
    Ok(())
}

/// `GET /metrics`: Prometheus text counting the requests served (by route template, status,
/// model and provider), the provider attempts and the units charged; readable with the
/// operator's key or `MOLTS_METRICS_TOKEN`, refused to an agent's key and to no key.
#[test]
fn metrics_are_scraped_with_the_operator_key_or_the_metrics_token() -> Result<(), String> {
    let (url, _dir) = sqlite_url()?;
    let metrics_token = "metrics-token-0123456789abcdefghij";
    let server = support::serve_with_env(
        &url,
        Some(support::ADMIN_TOKEN),
        &[("MOLTS_METRICS_TOKEN", metrics_token)],
    )?;
    let client = reqwest::blocking::Client::new();
    let registered: Value = client
        .post(format!("{}/v1/agents/register", server.base_url))
        .json(&serde_json::json!({"name": "Scraped"}))
        .send()
        .and_then(|r| r.json())
        .map_err(|e| e.to_string())?;
    let key = registered["api_key"].as_str().ok_or("no key")?.to_owned();
    let chat = client
        .post(format!("{}/v1/chat/completions", server.base_url))
        .bearer_auth(&key)
        .json(&serde_json::json!({"model": "demo-text", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .map_err(|e| e.to_string())?;
    assert_eq!(chat.status(), 200);
    let scrape = |token: Option<&str>| {
        let mut request = client.get(format!("{}/metrics", server.base_url));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        Ok::<_, String>((status, response.text().map_err(|e| e.to_string())?))
    };
    assert_eq!(scrape(None)?.0, 401);
    assert_eq!(
        scrape(Some(&key))?.0,
        401,
        "an agent's key is not an admin key"
    );
    assert_eq!(scrape(Some("metrics-token-but-not-the-right-one"))?.0, 401);
    for token in [metrics_token, support::ADMIN_TOKEN] {
        let (status, text) = scrape(Some(token))?;
        assert_eq!(status, 200, "{text}");
        let requests = text
            .lines()
            .find(|l| {
                l.starts_with("molts_http_requests_total{")
                    && l.contains(r#"route="/v1/chat/completions""#)
                    && l.contains(r#"status="2xx""#)
                    && l.contains(r#"provider="demo""#)
                    && l.contains(r#"model="demo-text""#)
            })
            .ok_or_else(|| format!("no chat request counted:\n{text}"))?;
        assert!(requests.ends_with(" 1"), "{requests}");
        for series in [
            "molts_http_request_duration_seconds_bucket{",
            r#"molts_provider_attempts_total{provider="demo",model="demo-text",outcome="ok"} 1"#,
            r#"molts_units_charged_total{unit="text_token",instance="default"}"#,
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(series)),
                "no {series} in:\n{text}"
            );
        }
        assert!(!text.contains(&key), "a key in the metrics");
    }
    Ok(())
}
