//! Inbound webhooks: a signed HeyGen webhook moves a job to ready with no poll due; an unsigned
//! or wrongly signed one is refused 401 and changes nothing; duplicates change nothing.

use std::time::Duration;

use molts_fakes::FakeServer;
use serde_json::{Value, json};

use crate::harness::{Api, base_env, free_port, set_up, start_molts, video, wait_for};
use crate::support::sqlite_url;

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
