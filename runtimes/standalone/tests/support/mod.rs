//! Spawning the real `molts` binary for black-box tests, and reading what it prints.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The operator token the tests start molts with.
pub(crate) const ADMIN_TOKEN: &str = "conformance-operator-token-0123456789";

/// A running `molts serve`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base_url: String,
    /// Lines molts wrote to stderr (logs and the one-time token banner), as they arrive.
    pub(crate) stderr: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `molts` binary built for this test run.
pub(crate) fn molts() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_molts"));
    // Each test chooses its artifacts store; none inherits one from the shell.
    cmd.env_remove("MOLTS_ARTIFACTS_URL");
    cmd
}

/// Starts `molts serve` on a free loopback port against `database_url`.
pub(crate) fn serve(database_url: &str, admin_token: Option<&str>) -> Result<Server, String> {
    serve_with_env(database_url, admin_token, &[])
}

/// Starts `molts serve` with extra environment variables.
pub(crate) fn serve_with_env(
    database_url: &str,
    admin_token: Option<&str>,
    env: &[(&str, &str)],
) -> Result<Server, String> {
    let mut cmd = molts();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
    ])
    .env_remove("MOLTS_ADMIN_TOKEN")
    // Lets the suite store tenants' own provider keys.
    .env("MOLTS_SECRET_KEY", "7f".repeat(32))
    // In memory: on PostgreSQL the default would be ./artifacts, inside the clone.
    .env("MOLTS_ARTIFACTS_URL", "memory://")
    .env("RUST_LOG", "info")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(token) = admin_token {
        cmd.env("MOLTS_ADMIN_TOKEN", token);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start molts: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (url_tx, url_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("molts listening on ") {
                let _ = url_tx.send(url.trim().to_owned());
            }
        }
    });
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let base_url = match url_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => url,
        Err(_) => {
            let _ = child.kill();
            let logs: Vec<String> = err_rx.try_iter().collect();
            return Err(format!(
                "molts did not start listening; stderr:\n{}",
                logs.join("\n")
            ));
        }
    };
    Ok(Server {
        child,
        base_url,
        stderr: err_rx,
    })
}

/// A temporary SQLite database URL (the directory lives as long as the guard).
pub(crate) fn sqlite_url() -> Result<(String, tempfile::TempDir), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("molts.db").display()
    );
    Ok((url, dir))
}

/// Waits for the child to exit, up to `timeout`.
pub(crate) fn wait_exit(
    child: &mut Child,
    timeout: Duration,
) -> Result<std::process::ExitStatus, String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if std::time::Instant::now() > deadline {
            return Err("molts did not exit in time".to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
