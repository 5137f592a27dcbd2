//! Nothing lost: a hundred videos and renders (some failing, some with their own webhook URL)
//! are submitted, the server is killed with SIGKILL while they are in flight and started again on
//! the same database and artifacts; every job still ends ready or failed, every ready job's file
//! is stored intact, every webhook arrives signed and saying how its job ended, and the quota
//! charges exactly the ready ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use molts_fakes::FakeServer;
use serde_json::json;

use crate::harness::{
    Api, Delivery, base_env, free_port, render, set_up, sha256_hex, start_molts, video, wait_for,
    webhook_receiver,
};
use crate::support::sqlite_url;

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
