//! The webhook client's resolve-then-filter, against a real loopback server and an injected
//! name lookup (no DNS, no network beyond 127.0.0.1): a public-looking name that resolves to
//! loopback is refused before any byte is sent, unless the operator allow-lists it; the
//! provider client is not filtered; and through the gateway's outbox, such a delivery is
//! recorded as failed at once with a message that names no address. A receiver that drips its
//! answer one byte at a time (a tarpit) is cut by the attempt's deadline and retried later,
//! while another tenant's delivery in the same round goes through at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use molts_core::ErrorCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use bytes::Bytes;
use common::{opts, zone};
use molts_core::domain::{DeliveryStatus, Job, JobKind, JobStatus, Provider, WebhookDelivery};
use molts_core::gateway::WebhookSettings;
use molts_core::memory::MemoryStore;
use molts_core::ports::{HttpClientExt, JobStore, WebhookStore};
use molts_core::providers::ProviderRegistry;
use molts_core::{Clock, ErrorKind, Gateway, GatewayConfig, Ports, Stores, SystemClock, Timestamp};
use molts_reqwest::{Lookup, ReqwestHttpClient, TokioSleeper};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

const HOST: &str = "hooks.example.test";

/// A loopback receiver counting the POSTs it gets; answers its port and the count.
async fn receiver() -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/hook",
        post(move |_body: Bytes| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, hits)
}

fn hook(url: &str) -> http::Request<Bytes> {
    http::Request::post(url)
        .header("content-type", "application/json")
        .body(Bytes::from_static(b"{}"))
        .unwrap()
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_and_nothing_is_sent() {
    let (port, hits) = receiver().await;
    let lookup = zone(&[
        (HOST, &["127.0.0.1"]),
        ("mixed.example.test", &["10.0.0.1", "::1"]),
    ]);
    let client = ReqwestHttpClient::for_webhooks_with(Vec::new(), lookup).unwrap();
    for host in [HOST, "mixed.example.test"] {
        let url = format!("http://{host}:{port}/hook?token=s3cret");
        let error = client
            .send_collect(hook(&url), opts(), 1024)
            .await
            .expect_err("an internal target must be refused");
        assert_eq!(error.kind(), ErrorKind::Forbidden, "{error}");
        assert_eq!(error.code(), Some(ErrorCode::WebhookAddressRefused));
        let shown = format!("{error} {error:?}");
        for leak in ["127.0.0.1", "10.0.0.1", "::1", "s3cret"] {
            assert!(!shown.contains(leak), "the error shows {leak}: {shown}");
        }
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the receiver got a request");
}

#[tokio::test]
async fn an_allow_listed_name_is_delivered_to_its_internal_address() {
    let (port, hits) = receiver().await;
    let lookup = zone(&[(HOST, &["127.0.0.1"])]);
    let client =
        ReqwestHttpClient::for_webhooks_with(vec!["Hooks.Example.Test".to_owned()], lookup)
            .unwrap();
    let response = client
        .send_collect(hook(&format!("http://{HOST}:{port}/hook")), opts(), 1024)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unknown_name_is_unreachable_not_refused() {
    let client = ReqwestHttpClient::for_webhooks_with(Vec::new(), zone(&[])).unwrap();
    let error = client
        .send_collect(hook("http://nowhere.example.test/hook"), opts(), 1024)
        .await
        .expect_err("an unknown name cannot be reached");
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.code(), Some(ErrorCode::UpstreamUnreachable));
    assert_eq!(error.message(), "could not connect to the webhook endpoint");
}

#[tokio::test]
async fn the_provider_client_still_reaches_loopback() {
    let (port, hits) = receiver().await;
    let client = ReqwestHttpClient::new().unwrap();
    let response = client
        .send_collect(hook(&format!("http://localhost:{port}/hook")), opts(), 1024)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// A gateway over the memory store whose webhook client is `for_webhooks_with(allowed, lookup)`,
/// holding a ready job and one due delivery of its event to `url`; answers the gateway and store.
async fn outbox(
    url: &str,
    allowed: &[&str],
    lookup: Arc<dyn Lookup>,
) -> (Gateway, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let ports = Ports::with_stores(Stores::from_one(store.clone()));
    let allowed: Vec<String> = allowed.iter().map(|h| (*h).to_owned()).collect();
    let config = GatewayConfig {
        webhooks: WebhookSettings {
            allowed_hosts: allowed.clone(),
            timeout: Duration::from_secs(5),
            ..WebhookSettings::default()
        },
        ..GatewayConfig::default()
    };
    let webhooks = ReqwestHttpClient::for_webhooks_with(allowed, lookup).unwrap();
    let gateway = Gateway::new(ports, config)
        .with_http(Arc::new(ReqwestHttpClient::new().unwrap()))
        .with_webhook_http(Arc::new(webhooks));
    queue(&store, "agt_1", "msg_1r0", url, SystemClock.now()).await;
    (gateway, store)
}

/// Stores a ready job of `agent` and one due delivery of its event (`id`) to `url`, due at `due`.
async fn queue(store: &MemoryStore, agent: &str, id: &str, url: &str, due: Timestamp) {
    let job = Job {
        id: format!("job_{agent}"),
        instance_id: "default".into(),
        agent_id: agent.to_owned(),
        kind: JobKind::Video,
        model_id: "demo-video".into(),
        provider: Provider::Demo,
        provider_job_id: Some("p1".into()),
        status: JobStatus::Ready,
        input: Default::default(),
        units: 1,
        reservation_id: format!("job_{agent}"),
        idempotency_key: None,
        callback_token_hash: String::new(),
        webhook_url: Some(url.to_owned()),
        attempts: 1,
        next_check_at: due,
        deadline_at: due,
        error: None,
        artifact_id: None,
        duration_seconds: None,
        created_at: due,
        updated_at: due,
        finished_at: Some(due),
        version: 1,
    };
    store.insert_job(&job).await.unwrap();
    let delivery = WebhookDelivery {
        id: id.to_owned(),
        agent_id: job.agent_id.clone(),
        job_id: job.id.clone(),
        event_type: "job.ready".into(),
        url: url.to_owned(),
        payload: r#"{"type":"job.ready"}"#.into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: due,
        last_status: None,
        last_error: None,
        created_at: due,
        delivered_at: None,
    };
    store.insert_delivery(&delivery).await.unwrap();
}

#[tokio::test]
async fn the_outbox_records_a_rebound_name_as_refused_and_an_allowed_one_as_delivered() {
    let (port, hits) = receiver().await;
    let url = format!("http://{HOST}:{port}/hook");

    // The URL passes the guard (a public-looking name); what it resolves to does not.
    let (gateway, store) = outbox(&url, &[], zone(&[(HOST, &["127.0.0.1"])])).await;
    let report = gateway.run_scheduled_work().await.unwrap();
    assert_eq!(report.webhooks_attempted, 1);
    let refused = store.get_delivery("msg_1r0").await.unwrap().unwrap();
    assert_eq!(
        refused.status,
        DeliveryStatus::Failed,
        "refusals are not retried"
    );
    assert_eq!(refused.attempts, 1);
    assert_eq!(refused.last_status, None);
    let message = refused.last_error.unwrap();
    assert!(message.contains("resolves only to"), "{message}");
    assert!(!message.contains("127.0.0.1"), "{message}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the receiver got a request");

    // The same name, allow-listed by the operator, is delivered.
    let (gateway, store) = outbox(&url, &[HOST], zone(&[(HOST, &["127.0.0.1"])])).await;
    gateway.run_scheduled_work().await.unwrap();
    let delivered = store.get_delivery("msg_1r0").await.unwrap().unwrap();
    assert_eq!(delivered.status, DeliveryStatus::Delivered, "{delivered:?}");
    assert_eq!(delivered.last_status, Some(200));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// A loopback receiver that reads the request, answers `200` with a long body and then sends
/// one byte of it every half second: never idle long enough for an idle timeout. Answers its
/// port and a signal raised once molts hangs up on it.
async fn tarpit() -> (u16, Arc<Notify>, Arc<AtomicBool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hung_up = Arc::new(Notify::new());
    let gone = Arc::new(AtomicBool::new(false));
    let (signal, flag) = (hung_up.clone(), gone.clone());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 64 * 1024];
        let _ = socket.read(&mut request).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n";
        let mut written = socket.write_all(head).await;
        while written.is_ok() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            written = socket.write_all(b"x").await;
        }
        flag.store(true, Ordering::SeqCst);
        signal.notify_one();
    });
    (port, hung_up, gone)
}

#[tokio::test]
async fn a_tarpit_receiver_is_cut_by_its_deadline_while_another_tenants_webhook_arrives() {
    const TARPIT: &str = "tarpit.example.test";
    let (slow_port, hung_up, gone) = tarpit().await;
    let arrived = Arc::new(Notify::new());
    let (fast_port, hits) = receiver_notifying(arrived.clone()).await;
    let allowed = [HOST, TARPIT];
    let lookup = zone(&[(HOST, &["127.0.0.1"]), (TARPIT, &["127.0.0.1"])]);
    let store = Arc::new(MemoryStore::new());
    let config = GatewayConfig {
        webhooks: WebhookSettings {
            allowed_hosts: allowed.iter().map(|h| (*h).to_owned()).collect(),
            // The idle timeout never fires on the tarpit (a byte every half second); the
            // attempt's deadline must.
            timeout: Duration::from_secs(3),
            ..WebhookSettings::default()
        },
        ..GatewayConfig::default()
    };
    let webhooks =
        ReqwestHttpClient::for_webhooks_with(config.webhooks.allowed_hosts.clone(), lookup);
    let gateway = Gateway::new(Ports::with_stores(Stores::from_one(store.clone())), config)
        .with_providers(ProviderRegistry::new().with_sleeper(Arc::new(TokioSleeper)))
        .with_http(Arc::new(ReqwestHttpClient::new().unwrap()))
        .with_webhook_http(Arc::new(webhooks.unwrap()));
    // The tarpit's delivery was due first: one after another, it would hold the other.
    let now = SystemClock.now();
    let slow_url = format!("http://{TARPIT}:{slow_port}/hook");
    queue(
        &store,
        "agt_slow",
        "msg_slow",
        &slow_url,
        now - Duration::from_secs(2),
    )
    .await;
    let fast_url = format!("http://{HOST}:{fast_port}/hook");
    queue(&store, "agt_fast", "msg_fast", &fast_url, now).await;

    let round = tokio::spawn({
        let gateway = gateway.clone();
        async move { gateway.run_scheduled_work().await }
    });
    // A bound only so a regression fails instead of hanging: the tarpit's body takes days.
    let patience = Duration::from_secs(60);
    tokio::time::timeout(patience, arrived.notified())
        .await
        .expect("the other tenant's webhook never arrived while the tarpit held its attempt");
    assert!(
        !gone.load(Ordering::SeqCst),
        "the other tenant's webhook should arrive while the tarpit's attempt still runs"
    );
    let report = tokio::time::timeout(patience, round)
        .await
        .expect("the round never ended: nothing cut the tarpit")
        .unwrap()
        .unwrap();
    assert_eq!(report.webhooks_attempted, 2, "{report:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let fast = store.get_delivery("msg_fast").await.unwrap().unwrap();
    assert_eq!(fast.status, DeliveryStatus::Delivered, "{fast:?}");
    let slow = store.get_delivery("msg_slow").await.unwrap().unwrap();
    assert_eq!(
        slow.status,
        DeliveryStatus::Pending,
        "retried later: {slow:?}"
    );
    assert_eq!(slow.attempts, 1);
    let error = slow.last_error.clone().unwrap_or_default();
    assert!(error.contains("did not finish within"), "{error}");
    assert!(slow.next_attempt_at > SystemClock.now(), "{slow:?}");
    // And molts hung up on the tarpit rather than leaving the request running.
    tokio::time::timeout(patience, hung_up.notified())
        .await
        .expect("molts kept the tarpit's connection open");
}

/// As [`receiver`], also raising `arrived` at each POST.
async fn receiver_notifying(arrived: Arc<Notify>) -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/hook",
        post(move |_body: Bytes| {
            let (counter, arrived) = (counter.clone(), arrived.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                arrived.notify_one();
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, hits)
}
