//! Durable jobs end to end: the real `molts` binary on a SQLite file, the fake providers
//! (`molts-fakes`) on loopback speaking HeyGen and Shotstack and calling back like them, and a
//! webhook receiver in the test that checks every Standard Webhooks signature.
//!
//! - **Nothing lost**: a hundred videos and renders (some failing, some with their own webhook
//!   URL) are submitted, the server is killed with SIGKILL while they are in flight and started
//!   again on the same database and artifacts; every job still ends ready or failed, every
//!   ready job's file is stored intact, every webhook arrives signed and saying how its job
//!   ended, and the quota charges exactly the ready ones.
//! - **Outage**: HeyGen answering 500s and timing out fails jobs with `provider_unavailable`
//!   (at submission) or `timed_out` (at the deadline, when status checks never get through),
//!   refunded, none left queued or processing.
//! - **Inbound webhooks**: a signed HeyGen webhook moves a job to ready with no poll due; an
//!   unsigned or wrongly signed one is refused 401 and changes nothing; duplicates change
//!   nothing.
//!
//! Every wait is bounded and says what it waited for; nothing here measures speed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use molts_fakes::FakeServer;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{ADMIN_TOKEN, molts, sqlite_url};

// ---------------------------------------------------------------------------------------------
// The server under test.

/// A running `molts serve`, killed (SIGKILL) when dropped.
struct Molts {
    child: Child,
    base: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Molts {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Molts {
    /// The last lines molts logged, for failure messages.
    fn tail(&self) -> String {
        let logs = self.logs.lock().unwrap();
        let from = logs.len().saturating_sub(40);
        logs[from..].join("\n")
    }

    /// SIGKILL, as a crash or an OOM kill would: no graceful shutdown.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (molts must come back on the same one: providers keep its callback
/// URLs).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts `molts serve` on `port` against `database_url` with `env`.
async fn start_molts(database_url: &str, port: u16, env: &[(String, String)]) -> Molts {
    let mut cmd = molts();
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--database-url",
        database_url,
    ])
    .env("MOLTS_ADMIN_TOKEN", ADMIN_TOKEN)
    .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn,tower_http=warn")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("molts starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("molts listening on ") {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let base = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap();
    let mut molts = Molts {
        child,
        base: String::new(),
        logs,
    };
    match base {
        Ok(base) => {
            molts.base = base;
            molts
        }
        Err(_) => panic!("molts did not start listening; its log:\n{}", molts.tail()),
    }
}

/// The environment every test starts molts with: the fake providers' keys and base URLs, the
/// webhook receiver allowed, and short job pacing.
fn base_env(fake: &FakeServer, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = fake.env().into_iter().collect();
    for (k, v) in [
        ("MOLTS_WEBHOOK_ALLOW_HOSTS", "127.0.0.1"),
        ("MOLTS_SCHEDULE_SECONDS", "1"),
        ("MOLTS_JOB_FIRST_CHECK_SECONDS", "1"),
        ("MOLTS_JOB_MAX_CHECK_SECONDS", "2"),
        ("MOLTS_JOB_LEASE_SECONDS", "3"),
        ("MOLTS_WEBHOOK_TIMEOUT_SECONDS", "2"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        env.retain(|(name, _)| name != k);
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

// ---------------------------------------------------------------------------------------------
// HTTP.

/// An answer, read whole.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
    json: Value,
}

impl Answer {
    fn quote(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        format!(
            "{} {}",
            self.status,
            text.chars().take(800).collect::<String>()
        )
    }
}

#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn new(base: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: base.to_owned(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, String> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("{method} {path}: reading the body: {e}"))?
            .to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            bytes,
            json,
        })
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let answer = self
            .send(method.clone(), path, key, body, &[])
            .await
            .unwrap();
        assert_eq!(
            answer.status,
            status,
            "{method} {path}: expected {status}, got {}",
            answer.quote()
        );
        answer.json
    }

    async fn get(&self, path: &str, key: &str) -> Value {
        self.expect(reqwest::Method::GET, path, Some(key), None, 200)
            .await
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: &Value, status: u16) {
        self.expect(method, path, Some(ADMIN_TOKEN), Some(body), status)
            .await;
    }

    /// Every job of the agent holding `key` (up to 200), by id.
    async fn jobs(&self, key: &str) -> Result<BTreeMap<String, Value>, String> {
        let answer = self
            .send(
                reqwest::Method::GET,
                "/v1/jobs?limit=200",
                Some(key),
                None,
                &[],
            )
            .await?;
        if answer.status != 200 {
            return Err(format!("GET /v1/jobs: {}", answer.quote()));
        }
        Ok(answer.json["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|j| (j["id"].as_str().unwrap_or_default().to_owned(), j))
            .collect())
    }

    /// This month's use of `unit`.
    async fn used(&self, key: &str, unit: &str) -> u64 {
        let usage = self.get("/v1/usage", key).await;
        usage["units"]
            .as_array()
            .and_then(|units| units.iter().find(|u| u["unit"] == unit))
            .and_then(|u| u["month"]["used"].as_u64())
            .unwrap_or_else(|| panic!("no month usage of {unit} in {usage}"))
    }
}

/// Polls `check` every 250 ms until it answers `Some`, for at most `within`; panics naming
/// `what` and the last state otherwise.
async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let started = Instant::now();
    let mut last = String::from("nothing yet");
    loop {
        match check().await {
            Ok(Some(value)) => return value,
            Ok(None) => {}
            Err(state) => last = state,
        }
        assert!(
            started.elapsed() < within,
            "gave up after {} s waiting for {what}; last: {last}",
            within.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver.

/// One delivery the receiver got.
#[derive(Debug, Clone)]
struct Delivery {
    path: String,
    webhook_id: String,
    signed: bool,
    event: Value,
}

#[derive(Default)]
struct Inbox {
    /// The agent's signing secret, once known.
    secret: Option<String>,
    deliveries: Vec<Delivery>,
}

type SharedInbox = Arc<Mutex<Inbox>>;

async fn receive(
    State(inbox): State<SharedInbox>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signatures) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut inbox = inbox.lock().unwrap();
    let signed = match (&inbox.secret, timestamp.parse::<i64>()) {
        (Some(secret), Ok(ts)) => {
            let expected = molts_core::gateway::sign_webhook(secret, &id, ts, &text).unwrap();
            signatures.split(' ').any(|s| s == expected)
        }
        _ => false,
    };
    inbox.deliveries.push(Delivery {
        path: uri.path().to_owned(),
        webhook_id: id,
        signed,
        event: serde_json::from_str(&text).unwrap_or(Value::Null),
    });
    if signed {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// Starts the receiver on loopback: answers its base URL and its inbox.
async fn webhook_receiver() -> (String, SharedInbox) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let inbox = SharedInbox::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(inbox.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, inbox)
}

// ---------------------------------------------------------------------------------------------
// Set-up through the API.

/// Creates the fake-backed model configs, a roomy tier and an agent on it; answers the key.
async fn set_up(api: &Api) -> String {
    use reqwest::Method;
    for (id, provider, modality, provider_model) in [
        ("e2e-heygen", "heygen", "video", "avatar-video"),
        ("e2e-shotstack", "shotstack", "render", "v1"),
    ] {
        api.admin(
            Method::POST,
            "/v1/admin/models",
            &json!({"id": id, "provider": provider, "modality": modality,
                    "provider_model": provider_model, "display_name": id}),
            201,
        )
        .await;
    }
    api.admin(
        Method::POST,
        "/v1/admin/tiers",
        &json!({"id": "e2e", "name": "E2E",
                "limits": {"video": {"month": 1000}, "render": {"month": 1000}}}),
        201,
    )
    .await;
    let agent = api
        .expect(
            Method::POST,
            "/v1/agents/register",
            None,
            Some(&json!({"name": "e2e", "email": "e2e@example.com"})),
            201,
        )
        .await;
    let id = agent["agent_id"].as_str().unwrap();
    api.admin(
        Method::PATCH,
        &format!("/v1/admin/agents/{id}"),
        &json!({"tier": "e2e"}),
        200,
    )
    .await;
    agent["api_key"].as_str().unwrap().to_owned()
}

fn video(script: &str, webhook_url: Option<&str>) -> Value {
    let mut body = json!({"model": "e2e-heygen", "script": script});
    if let Some(url) = webhook_url {
        body["webhook_url"] = json!(url);
    }
    body
}

fn render(title: &str, webhook_url: Option<&str>) -> Value {
    let mut body = json!({
        "model": "e2e-shotstack",
        "timeline": {"tracks": [{"clips": [
            {"asset": {"type": "title", "text": title}, "start": 0, "length": 2}
        ]}]},
        "output": {"format": "mp4", "resolution": "sd"},
    });
    if let Some(url) = webhook_url {
        body["webhook_url"] = json!(url);
    }
    body
}

// ---------------------------------------------------------------------------------------------
// Nothing lost.

/// What the test asked for one job.
#[derive(Debug, Clone)]
struct Asked {
    kind: &'static str,
    fails: bool,
    own_webhook: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_when_the_server_is_killed_mid_flight() {
    const JOBS: usize = 100;
    let fake = FakeServer::start().await.unwrap();
    let (hooks, inbox) = webhook_receiver().await;
    let (db, _dir) = sqlite_url().unwrap();
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let env = base_env(&fake, &[("MOLTS_PUBLIC_URL", public.as_str())]);
    let server = start_molts(&db, port, &env).await;
    let api = Api::new(&server.base);
    let key = set_up(&api).await;
    let agent_hook = format!("{hooks}/hooks/agent");
    let request_hook = format!("{hooks}/hooks/request");
    let endpoint = api
        .expect(
            reqwest::Method::PUT,
            "/v1/webhook",
            Some(&key),
            Some(&json!({"url": agent_hook})),
            200,
        )
        .await;
    inbox.lock().unwrap().secret = Some(endpoint["secret"].as_str().unwrap().to_owned());

    // A hundred jobs, eight at a time: a third renders, every tenth failing at the provider,
    // every fourth with its own webhook URL, finishing after one to four status polls.
    let mut asked: HashMap<String, Asked> = HashMap::new();
    let mut pending = tokio::task::JoinSet::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(8));
    for i in 0..JOBS {
        let kind = if i % 3 == 0 { "render" } else { "video" };
        let fails = i % 10 == 7;
        let own_webhook = i % 4 == 0;
        let fault = format!(
            "[[fake-fault:ready-after={}{}]]",
            1 + i % 4,
            if fails { " fail-job" } else { "" }
        );
        let hook = own_webhook.then_some(request_hook.as_str());
        let (path, body) = if kind == "render" {
            ("/v1/renders", render(&format!("Render {i} {fault}"), hook))
        } else {
            (
                "/v1/videos/generate",
                video(&format!("Video number {i} says hello. {fault}"), hook),
            )
        };
        let (api, key, gate) = (api.clone(), key.clone(), gate.clone());
        pending.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let idempotency = format!("e2e-{i}");
            let answer = api
                .send(
                    reqwest::Method::POST,
                    path,
                    Some(&key),
                    Some(&body),
                    &[("idempotency-key", idempotency.as_str())],
                )
                .await
                .unwrap();
            assert_eq!(answer.status, 202, "job {i}: {}", answer.quote());
            let id = answer.json["id"]
                .as_str()
                .or(answer.json["video_id"].as_str())
                .unwrap()
                .to_owned();
            (
                id,
                Asked {
                    kind,
                    fails,
                    own_webhook,
                },
            )
        });
    }
    while let Some(done) = pending.join_next().await {
        let (id, job) = done.unwrap();
        asked.insert(id, job);
    }
    assert_eq!(asked.len(), JOBS);

    // Kill it once a good share has finished, with the rest in flight.
    let finished_at_kill = wait_for(
        "a quarter of the jobs to finish",
        Duration::from_secs(60),
        || {
            let (api, key) = (api.clone(), key.clone());
            async move {
                let jobs = api.jobs(&key).await?;
                let finished = jobs
                    .values()
                    .filter(|j| matches!(j["status"].as_str(), Some("ready" | "failed")))
                    .count();
                Ok((finished >= JOBS / 4).then_some(finished))
            }
        },
    )
    .await;
    server.kill();
    println!("killed molts with {finished_at_kill} of {JOBS} jobs finished");
    let delivered_at_kill = inbox.lock().unwrap().deliveries.len();

    let server = start_molts(&db, port, &env).await;
    let api = Api::new(&server.base);
    let jobs = wait_for(
        "every job to end ready or failed",
        Duration::from_secs(120),
        || {
            let (api, key) = (api.clone(), key.clone());
            async move {
                let jobs = api.jobs(&key).await?;
                let open: Vec<String> = jobs
                    .values()
                    .filter(|j| !matches!(j["status"].as_str(), Some("ready" | "failed")))
                    .map(|j| format!("{} {}", j["id"], j["status"]))
                    .collect();
                if jobs.len() == JOBS && open.is_empty() {
                    Ok(Some(jobs))
                } else {
                    Err(format!("{} jobs, still open: {open:?}", jobs.len()))
                }
            }
        },
    )
    .await;

    // Every job ended as asked; every ready one's file is stored intact.
    let mut ready = HashMap::<&str, u64>::new();
    for (id, job) in &jobs {
        let want = &asked[id];
        assert_eq!(job["kind"], want.kind, "{job}");
        if want.fails {
            assert_eq!(job["status"], "failed", "{job}\n{}", server.tail());
            assert_eq!(job["error"]["code"], "provider_failed", "{job}");
            continue;
        }
        assert_eq!(job["status"], "ready", "{job}\n{}", server.tail());
        *ready.entry(want.kind).or_default() += 1;
        let artifact_id = job["artifact_id"].as_str().unwrap();
        let record = api.get(&format!("/v1/artifacts/{artifact_id}"), &key).await;
        let content = api
            .send(
                reqwest::Method::GET,
                &format!("/v1/artifacts/{artifact_id}/content"),
                Some(&key),
                None,
                &[],
            )
            .await
            .unwrap();
        assert_eq!(content.status, 200, "{}", content.quote());
        assert_eq!(
            content.bytes.get(4..8),
            Some(&b"ftyp"[..]),
            "{id}: not an MP4"
        );
        assert_eq!(record["size"], content.bytes.len(), "{id}: {record}");
        assert_eq!(
            record["sha256"],
            sha256_hex(&content.bytes),
            "{id}: the stored bytes' SHA-256 differs from the record"
        );
        assert_eq!(
            content.headers.get("content-type").unwrap(),
            "video/mp4",
            "{id}"
        );
    }

    // Every webhook arrives, signed, saying how its job ended.
    let deliveries = wait_for("every webhook to arrive", Duration::from_secs(90), || {
        let inbox = inbox.clone();
        let (jobs, asked) = (&jobs, &asked);
        async move {
            let got = inbox.lock().unwrap().deliveries.clone();
            let mut missing = Vec::new();
            for (id, job) in jobs {
                let event = if job["status"] == "ready" {
                    "job.ready"
                } else {
                    "job.failed"
                };
                let mut targets = vec!["/hooks/agent"];
                if asked[id].own_webhook {
                    targets.push("/hooks/request");
                }
                for target in targets {
                    let arrived = got.iter().any(|d| {
                        d.signed
                            && d.path == target
                            && d.event["type"] == event
                            && d.event["data"]["id"] == id.as_str()
                            && d.event["data"]["status"] == job["status"]
                    });
                    if !arrived {
                        missing.push(format!("{event} for {id} to {target}"));
                    }
                }
            }
            if missing.is_empty() {
                Ok(Some(got))
            } else {
                Err(format!(
                    "{} missing, e.g. {:?}",
                    missing.len(),
                    &missing[..missing.len().min(5)]
                ))
            }
        }
    })
    .await;
    let unsigned: Vec<&Delivery> = deliveries.iter().filter(|d| !d.signed).collect();
    assert!(
        unsigned.is_empty(),
        "deliveries with a bad signature: {unsigned:?}"
    );
    let contradicting: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| {
            let id = d.event["data"]["id"].as_str().unwrap_or_default();
            let status = jobs
                .get(id)
                .map(|j| j["status"].clone())
                .unwrap_or_default();
            d.event["data"]["status"] != status
        })
        .collect();
    assert!(
        contradicting.is_empty(),
        "events that contradict how their job ended: {contradicting:?}"
    );
    let mut per_id = HashMap::<&str, usize>::new();
    for d in &deliveries {
        *per_id.entry(d.webhook_id.as_str()).or_default() += 1;
    }
    let expected_targets = JOBS + asked.values().filter(|a| a.own_webhook).count();
    assert_eq!(
        per_id.len(),
        expected_targets,
        "one webhook-id per job and target"
    );
    println!(
        "{} deliveries for {} webhook-ids ({} before the kill), {} delivered more than once",
        deliveries.len(),
        per_id.len(),
        delivered_at_kill,
        per_id.values().filter(|n| **n > 1).count()
    );

    // The quota charges exactly the ready jobs; failed ones were refunded.
    for unit in ["video", "render"] {
        let used = api.used(&key, unit).await;
        let want = ready.get(unit).copied().unwrap_or(0);
        assert_eq!(used, want, "{unit}s used vs ready\n{}", server.tail());
    }
    let failed = asked.values().filter(|a| a.fails).count();
    assert_eq!(
        ready.values().sum::<u64>() as usize,
        JOBS - failed,
        "ready jobs"
    );
    let called_back = fake
        .callbacks()
        .iter()
        .filter(|c| c.url.starts_with(&public) && c.status == Some(204))
        .count();
    assert!(called_back > 0, "no provider callback reached molts");
    println!("{called_back} provider callbacks reached molts");
}

// ---------------------------------------------------------------------------------------------
// Outage.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_jobs_clearly_refunds_them_and_leaves_none_stuck() {
    let fake = FakeServer::start().await.unwrap();
    let (db, _dir) = sqlite_url().unwrap();
    let port = free_port();
    let env = base_env(
        &fake,
        &[
            ("HEYGEN_TIMEOUT_SECONDS", "1"),
            ("MOLTS_JOB_SUBMIT_ATTEMPTS", "2"),
            ("MOLTS_JOB_DEADLINE_SECONDS", "8"),
        ],
    );
    let server = start_molts(&db, port, &env).await;
    let api = Api::new(&server.base);
    let key = set_up(&api).await;

    // HeyGen is down: 500s, and answers that come too late.
    let outage = |times: usize| {
        for _ in 0..times {
            fake.push_fault("heygen", "status=500", 2).unwrap();
            fake.push_fault("heygen", "delay-ms=2500,status=503", 1)
                .unwrap();
        }
    };
    outage(200);
    let mut refused = Vec::new();
    for n in 0..3 {
        let job = api
            .expect(
                reqwest::Method::POST,
                "/v1/videos/generate",
                Some(&key),
                Some(&video(&format!("Nobody is home {n}."), None)),
                202,
            )
            .await;
        assert_eq!(job["job_status"], "queued", "kept for another try: {job}");
        assert_eq!(job["error"]["code"], "provider_unavailable", "{job}");
        refused.push(job["video_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(api.used(&key, "video").await, 3, "held while retried");

    let jobs = wait_for("the refused jobs to fail", Duration::from_secs(60), || {
        let (api, key, refused) = (api.clone(), key.clone(), refused.clone());
        async move {
            let jobs = api.jobs(&key).await?;
            let open: Vec<&Value> = refused
                .iter()
                .filter_map(|id| jobs.get(id))
                .filter(|j| j["status"] != "failed")
                .collect();
            if open.is_empty() {
                Ok(Some(jobs))
            } else {
                Err(format!("still open: {open:?}"))
            }
        }
    })
    .await;
    for id in &refused {
        assert_eq!(
            jobs[id]["error"]["code"],
            "provider_unavailable",
            "{}\n{}",
            jobs[id],
            server.tail()
        );
    }
    assert_eq!(api.used(&key, "video").await, 0, "refunded");

    // Accepted, then HeyGen goes down for every status check: the deadline ends them.
    fake.clear_faults();
    let mut stranded = Vec::new();
    for n in 0..2 {
        let job = api
            .expect(
                reqwest::Method::POST,
                "/v1/videos/generate",
                Some(&key),
                Some(&video(&format!("Stranded at the provider {n}."), None)),
                202,
            )
            .await;
        assert_eq!(job["job_status"], "processing", "{job}");
        stranded.push(job["video_id"].as_str().unwrap().to_owned());
    }
    outage(500);
    let jobs = wait_for(
        "the stranded jobs to time out",
        Duration::from_secs(60),
        || {
            let (api, key, stranded) = (api.clone(), key.clone(), stranded.clone());
            async move {
                let jobs = api.jobs(&key).await?;
                let open: Vec<&Value> = stranded
                    .iter()
                    .filter_map(|id| jobs.get(id))
                    .filter(|j| j["status"] != "failed")
                    .collect();
                if open.is_empty() {
                    Ok(Some(jobs))
                } else {
                    Err(format!("still open: {open:?}"))
                }
            }
        },
    )
    .await;
    for id in &stranded {
        assert_eq!(
            jobs[id]["error"]["code"],
            "timed_out",
            "{}\n{}",
            jobs[id],
            server.tail()
        );
    }
    assert_eq!(api.used(&key, "video").await, 0, "refunded");
    for status in ["queued", "processing"] {
        let stuck = api.get(&format!("/v1/jobs?status={status}"), &key).await;
        assert_eq!(stuck["data"], json!([]), "{status} jobs left");
    }
    let checks = fake.requests("heygen").len();
    assert!(checks > 5, "HeyGen was asked only {checks} times");
}

// ---------------------------------------------------------------------------------------------
// Inbound webhooks.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_heygen_webhook_moves_a_job_and_forgeries_and_duplicates_change_nothing() {
    const SECRET: &str = "heygen-endpoint-secret-for-e2e";
    let fake = FakeServer::start().await.unwrap();
    let (db, _dir) = sqlite_url().unwrap();
    let port = free_port();
    let webhook = format!("http://127.0.0.1:{port}/v1/callbacks/heygen");
    fake.set_heygen_webhook(Some(SECRET), Some(&webhook));
    // No public URL: HeyGen gets no per-video callback, only the account webhook reaches molts;
    // and scheduled work once an hour, so no status check is due meanwhile.
    let env = base_env(
        &fake,
        &[
            ("HEYGEN_WEBHOOK_SECRET", SECRET),
            ("MOLTS_SCHEDULE_SECONDS", "3600"),
        ],
    );
    let server = start_molts(&db, port, &env).await;
    let api = Api::new(&server.base);
    let key = set_up(&api).await;
    let submitted = api
        .expect(
            reqwest::Method::POST,
            "/v1/videos/generate",
            Some(&key),
            Some(&video(
                "Only a webhook can finish me. [[fake-fault:never-finish]]",
                None,
            )),
            202,
        )
        .await;
    let id = submitted["video_id"].as_str().unwrap().to_owned();
    let provider_job = fake.jobs().last().unwrap().clone();
    assert_eq!(provider_job.provider, "heygen");
    assert_eq!(provider_job.echo["callback_id"], id.as_str());
    let job_now = |api: Api, key: String, id: String| async move {
        api.jobs(&key).await.map(|jobs| jobs[&id].clone())
    };
    let before = job_now(api.clone(), key.clone(), id.clone()).await.unwrap();
    assert_eq!(before["status"], "processing");

    // Forgeries: the right event unsigned, and signed with another secret.
    let event = json!({"event_type": "avatar_video.success", "event_data": {
        "video_id": provider_job.id, "url": provider_job.url(&fake.url()), "callback_id": id,
    }})
    .to_string();
    let post_event = |signature: Option<String>, body: String| {
        let client = api.client.clone();
        let url = format!("{}/v1/callbacks/heygen", server.base);
        async move {
            let mut request = client
                .post(url)
                .header("content-type", "application/json")
                .body(body);
            if let Some(s) = signature {
                request = request.header("Signature", s);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    for signature in [
        None,
        Some(molts_fakes::heygen_signature(
            "not-the-secret",
            event.as_bytes(),
        )),
        Some("zz-not-hex".to_owned()),
    ] {
        let (status, body) = post_event(signature.clone(), event.clone()).await;
        assert_eq!(status, 401, "{signature:?}: {body}");
        assert_eq!(body["error"]["code"], "callback_refused", "{body}");
        assert_eq!(body["error"]["type"], "authentication_error", "{body}");
    }
    // Signed, but about another video than the job's: ignored.
    let other = json!({"event_type": "avatar_video.success", "event_data": {
        "video_id": "someone-elses-video", "url": "http://127.0.0.1:9/x.mp4", "callback_id": id,
    }})
    .to_string();
    let signature = molts_fakes::heygen_signature(SECRET, other.as_bytes());
    assert_eq!(post_event(Some(signature), other).await.0, 204);
    let after = job_now(api.clone(), key.clone(), id.clone()).await.unwrap();
    assert_eq!(after, before, "refused webhooks changed the job");
    assert_eq!(fake.jobs().last().unwrap().polls, 0, "nothing asked HeyGen");

    // HeyGen finishes the video and sends its signed event: the job is ready, no poll due.
    fake.finish_job(&provider_job.id).unwrap();
    wait_for(
        "HeyGen's event to be answered 204",
        Duration::from_secs(30),
        || answered(&fake, 1),
    )
    .await;
    let sent = fake.callbacks();
    assert_eq!(sent[0].url, webhook);
    let ready = job_now(api.clone(), key.clone(), id.clone()).await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}\n{}", server.tail());
    let artifact = ready["artifact_id"].as_str().unwrap();
    let content = api
        .send(
            reqwest::Method::GET,
            &format!("/v1/artifacts/{artifact}/content"),
            Some(&key),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(content.status, 200);
    assert_eq!(content.bytes.get(4..8), Some(&b"ftyp"[..]));
    let polls = fake.jobs().last().unwrap().polls;
    assert_eq!(polls, 1, "the webhook made molts ask HeyGen once");
    assert_eq!(api.used(&key, "video").await, 1);

    // Duplicates: the same signed event replayed, and HeyGen sending it again.
    let signature = sent[0]
        .headers
        .iter()
        .find(|(k, _)| k == "Signature")
        .map(|(_, v)| v.clone());
    let (status, _) = post_event(signature, sent[0].body.clone()).await;
    assert_eq!(status, 204);
    fake.finish_job(&provider_job.id).unwrap();
    wait_for(
        "HeyGen's second event to be answered 204",
        Duration::from_secs(30),
        || answered(&fake, 2),
    )
    .await;
    let after = job_now(api.clone(), key.clone(), id.clone()).await.unwrap();
    assert_eq!(after, ready, "duplicates changed the job");
    assert_eq!(
        fake.jobs().last().unwrap().polls,
        polls,
        "duplicates asked HeyGen again"
    );
    assert_eq!(api.used(&key, "video").await, 1, "charged once");
}

/// `Some` once the fake's `n`th callback has been answered 204.
async fn answered(fake: &FakeServer, n: usize) -> Result<Option<()>, String> {
    let sent = fake.callbacks();
    match sent.get(n - 1) {
        None => Err(format!("{} callbacks so far", sent.len())),
        Some(c) if c.status == Some(204) => Ok(Some(())),
        Some(c) => Err(format!("answered {c:?}")),
    }
}
