//! Runs the whole conformance suite over real HTTP against the molts router served in-process
//! on an in-memory store: the quickest way to develop both the suite and the router.

use std::sync::Arc;

use molts_core::gateway::{Background, Outbound, Runtime, Settings};
use molts_core::memory::MemoryBlobStore;
use molts_core::{Gateway, Ports};
use molts_http_api::{ApiState, router};
use molts_reqwest::ReqwestHttpClient;

const ADMIN_TOKEN: &str = "conformance-operator-token-0123456789abcdef";

async fn serve() -> Result<String, String> {
    // As the conformance scripts start every runtime: the suite's receiver and fakes on
    // loopback are reachable, and tenants' provider keys can be sealed.
    let settings = Settings::from_lookup(|name| match name {
        "MOLTS_WEBHOOK_ALLOW_HOSTS" => Some("127.0.0.1".into()),
        "MOLTS_SECRET_KEY" => Some("7f".repeat(32)),
        _ => None,
    })
    .map_err(|e| e.to_string())?;
    let allowed = &settings.gateway.webhooks.allowed_hosts;
    let client = |c: molts_core::Result<ReqwestHttpClient>| c.map_err(|e| e.to_string());
    let runtime = Runtime {
        ports: Ports::in_memory(),
        outbound: Outbound {
            operator: Arc::new(client(ReqwestHttpClient::new())?),
            webhooks: Arc::new(client(ReqwestHttpClient::for_webhooks(
                allowed.clone(),
                None,
            ))?),
            public_only: Arc::new(client(ReqwestHttpClient::public_only(
                allowed.clone(),
                None,
            ))?),
        },
        blobs: Arc::new(MemoryBlobStore::new()),
        providers: molts_reqwest::native_providers(&|_| None).map_err(|e| e.to_string())?,
        demo: Arc::new(molts_demo::DemoProvider),
        background: Background::BeforeAnswering,
    };
    let gateway = Gateway::wire(runtime, &settings).map_err(|e| e.to_string())?;
    gateway
        .bootstrap(Some(ADMIN_TOKEN))
        .await
        .map_err(|e| e.to_string())?;
    // The scheduled work every runtime runs on a timer (jobs, webhooks, expired holds).
    let scheduled = gateway.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            if let Err(e) = scheduled.run_scheduled_work().await {
                eprintln!("scheduled work failed: {e}");
            }
        }
    });
    let app = router(ApiState::new(gateway));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("server stopped: {e}");
        }
    });
    Ok(format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_passes_against_the_router_in_process() -> Result<(), String> {
    let target = molts_conformance::Target {
        base_url: serve().await?,
        admin_token: ADMIN_TOKEN.to_owned(),
    };
    // Twice against the same server: cases must not depend on a fresh one.
    for round in 1..=2 {
        let report = molts_conformance::run(&target, None).await;
        println!("round {round}:\n{report}");
        if !report.ok() {
            let failed: Vec<String> = report
                .failed
                .iter()
                .map(|f| format!("{}: {}", f.name, f.message))
                .collect();
            return Err(format!(
                "round {round}: {}\n{}",
                report.summary(),
                failed.join("\n")
            ));
        }
        if report.passed.len() != molts_conformance::CASES.len() {
            return Err(format!(
                "round {round}: ran {} of {} cases",
                report.passed.len(),
                molts_conformance::CASES.len()
            ));
        }
    }
    Ok(())
}

#[tokio::test]
async fn filter_selects_by_substring_and_unreachable_servers_fail() {
    let keys = molts_conformance::selected(Some("keys."));
    assert!(!keys.is_empty() && keys.iter().all(|c| c.name.contains("keys.")));
    let mut names: Vec<&str> = molts_conformance::CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        molts_conformance::CASES.len(),
        "case names must be unique"
    );

    // Port 9 (discard) on localhost: nothing listens, every case fails fast with a message.
    let target = molts_conformance::Target {
        base_url: "http://127.0.0.1:9".to_owned(),
        admin_token: ADMIN_TOKEN.to_owned(),
    };
    let report = molts_conformance::run(&target, Some("basics.health")).await;
    assert!(!report.ok());
    assert_eq!(report.failed.len(), 1);
    assert!(report.to_string().ends_with("0 passed, 1 failed\n"));
}
