//! The public-only clients through an egress proxy (`MOLTS_EGRESS_PROXY`), over real HTTP on
//! loopback: a forwarding proxy that resolves names from its own table stands for the operator's
//! egress proxy. A destination's name reaches the proxy unresolved (molts never looks it up),
//! the proxy's answer comes back, credentials in the proxy URL become `Proxy-Authorization`, an
//! internal IP literal or name is still refused before anything is sent, and a proxy that is
//! down is a clear `Unavailable` that never shows its password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use molts_core::ErrorCode;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use common::{get_request, opts};
use molts_core::ErrorKind;
use molts_core::ports::HttpClientExt;
use molts_reqwest::{EgressProxy, ReqwestHttpClient};

const OUTPUT: &[u8] = b"\x00\x00\x00\x18ftypmp42 pretend video bytes";

/// One request the proxy got: its target as sent (absolute form) and its `Proxy-Authorization`.
type Asked = (String, Option<String>);

/// Every request the proxy got.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Asked>>>);

impl Seen {
    fn targets(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

/// The origin a provider's CDN stands for: serves one file.
async fn origin() -> SocketAddr {
    let app = Router::new().route(
        "/files/out.mp4",
        get(|| async { ([("content-type", "video/mp4")], OUTPUT) }),
    );
    serve(app).await
}

/// A forwarding HTTP proxy: takes absolute-form requests, resolves every name to `upstream`
/// (its own view of the network, which molts does not share) and relays the answer.
async fn proxy(upstream: SocketAddr) -> (SocketAddr, Seen) {
    #[derive(Clone)]
    struct Relay {
        seen: Seen,
        client: reqwest::Client,
    }
    async fn relay(State(state): State<Relay>, request: Request) -> Response {
        let target = request.uri().to_string();
        let auth = request
            .headers()
            .get("proxy-authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        state.seen.0.lock().unwrap().push((target.clone(), auth));
        // A name it cannot resolve is a 502, as a real proxy answers.
        let (status, body) = match state.client.get(&target).send().await {
            Ok(answer) => (answer.status(), answer.bytes().await.unwrap()),
            Err(_) => (reqwest::StatusCode::BAD_GATEWAY, Bytes::new()),
        };
        Response::builder()
            .status(status)
            .body(Body::from(body))
            .unwrap()
    }
    let seen = Seen::default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .resolve("cdn.public.test", upstream)
        .build()
        .unwrap();
    let app = Router::new().fallback(relay).with_state(Relay {
        seen: seen.clone(),
        client,
    });
    (serve(app).await, seen)
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn destinations_go_through_the_proxy_which_resolves_their_names() {
    let origin = origin().await;
    let (proxy_addr, seen) = proxy(origin).await;
    let egress = EgressProxy::parse(&format!("http://molts:pr0xy-pass@{proxy_addr}")).unwrap();
    let public = ReqwestHttpClient::public_only(Vec::new(), Some(&egress)).unwrap();
    let webhooks = ReqwestHttpClient::for_webhooks(Vec::new(), Some(&egress)).unwrap();

    // No resolver of molts' knows this name (the system's doesn't): only the proxy can reach it.
    let url = format!("http://cdn.public.test:{}/files/out.mp4", origin.port());
    for client in [&public, &webhooks] {
        let response = client
            .send_collect(get_request(&url), opts(), 1024)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(&response.body()[..], OUTPUT);
    }
    let requests = seen.0.lock().unwrap().clone();
    assert_eq!(
        requests.len(),
        2,
        "both clients asked the proxy: {requests:?}"
    );
    for (target, auth) in requests {
        assert_eq!(
            target, url,
            "the proxy got the destination's name, unresolved"
        );
        // base64("molts:pr0xy-pass")
        assert_eq!(auth.as_deref(), Some("Basic bW9sdHM6cHIweHktcGFzcw=="));
    }
}

#[tokio::test]
async fn internal_literals_and_names_are_refused_before_the_proxy_sees_them() {
    let origin = origin().await;
    let (proxy_addr, seen) = proxy(origin).await;
    let egress = EgressProxy::parse(&format!("http://{proxy_addr}")).unwrap();
    let client =
        ReqwestHttpClient::public_only(vec!["allowed.internal".into()], Some(&egress)).unwrap();
    let port = origin.port();
    for host in [
        "127.0.0.1",
        "[::1]",
        "localhost",
        "169.254.169.254",
        "metadata.internal",
    ] {
        let url = format!("http://{host}:{port}/files/out.mp4");
        let error = client
            .send_collect(get_request(&url), opts(), 1024)
            .await
            .expect_err("an internal destination must be refused");
        assert_eq!(error.kind(), ErrorKind::Forbidden, "{host}: {error}");
        assert_eq!(error.code(), Some(ErrorCode::AddressRefused), "{host}");
    }
    assert!(
        seen.targets().is_empty(),
        "the proxy was asked: {:?}",
        seen.targets()
    );

    // The allow-list still lets a named internal host through — through the proxy, which here
    // resolves only cdn.public.test and so answers 502 for it: what matters is who was asked.
    let url = format!("http://allowed.internal:{port}/files/out.mp4");
    let response = client
        .send_collect(get_request(&url), opts(), 1024)
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(seen.targets(), vec![url]);
}

#[tokio::test]
async fn a_proxy_that_is_down_is_unavailable_and_its_password_is_never_shown() {
    // A port that was just free: nothing listens there.
    let free = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let egress = EgressProxy::parse(&format!("http://molts:pr0xy-pass@{addr}")).unwrap();
    let client = ReqwestHttpClient::for_webhooks(Vec::new(), Some(&egress)).unwrap();
    let error = client
        .send_collect(
            get_request("http://hooks.public.test/deliver"),
            opts(),
            1024,
        )
        .await
        .expect_err("nothing listens at the proxy");
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error}");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("pr0xy-pass"), "{shown}");
}
