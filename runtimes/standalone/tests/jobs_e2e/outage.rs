//! Outage: HeyGen answering 500s and timing out fails jobs with `provider_unavailable` (at
//! submission) or `timed_out` (at the deadline, when status checks never get through), refunded,
//! none left queued or processing.

use std::collections::BTreeMap;
use std::time::Duration;

use molts_fakes::FakeServer;
use serde_json::{Value, json};

use crate::harness::{Api, base_env, free_port, set_up, start_molts, video, wait_for};
use crate::support::sqlite_url;

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

    let jobs = all_failed("the refused jobs to fail", &api, &key, &refused).await;
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
    let jobs = all_failed("the stranded jobs to time out", &api, &key, &stranded).await;
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

/// Waits (a minute at most) until every job in `ids` has failed; the agent's jobs by id then.
async fn all_failed(what: &str, api: &Api, key: &str, ids: &[String]) -> BTreeMap<String, Value> {
    wait_for(what, Duration::from_secs(60), || {
        let (api, key, ids) = (api.clone(), key.to_owned(), ids.to_vec());
        async move {
            let jobs = api.jobs(&key).await?;
            let open: Vec<&Value> = ids
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
    .await
}
