//! The reqwest client against a real local axum server: statuses pass through, bodies stream,
//! redirects are not followed, and timeouts and refused connections become `Unavailable` whose
//! messages hold neither the query nor any header.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use molts_core::ErrorCode;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use bytes::Bytes;
use futures::StreamExt;
use molts_core::ports::{HttpClientExt, RequestOptions};
use molts_core::providers::Sleeper;
use molts_core::{ErrorKind, HttpClient};
use molts_reqwest::{ReqwestHttpClient, TokioSleeper};

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/echo",
            post(|headers: HeaderMap, body: Bytes| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                (StatusCode::CREATED, [("x-auth", auth)], body)
            }),
        )
        .route(
            "/stream",
            get(|| async {
                let chunks = futures::stream::iter(0..3).then(|i| async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, std::io::Error>(Bytes::from(format!("chunk{i};")))
                });
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/stall",
            get(|| async {
                let chunks = futures::stream::iter(0..2).then(|i| async move {
                    // The first piece at once, then a pause longer than the client waits.
                    tokio::time::sleep(Duration::from_millis(if i == 0 { 0 } else { 2_000 })).await;
                    Ok::<_, std::io::Error>(Bytes::from(format!("piece{i}")))
                });
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/echo") }))
        .route(
            "/teapot",
            get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout").into_response() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn get_req(url: &str) -> http::Request<Bytes> {
    http::Request::get(url).body(Bytes::new()).unwrap()
}

fn opts(ms: u64) -> RequestOptions {
    RequestOptions {
        timeout: Duration::from_millis(ms),
    }
}

#[tokio::test]
async fn sends_headers_and_body_and_passes_any_status_through() {
    let base = serve().await;
    let client = ReqwestHttpClient::new().unwrap();
    let request = http::Request::post(format!("{base}/echo"))
        .header("authorization", "Bearer k")
        .body(Bytes::from_static(b"hello"))
        .unwrap();
    let response = client
        .send_collect(request, opts(2_000), 1 << 20)
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-auth"], "Bearer k");
    assert_eq!(response.body().as_ref(), b"hello");

    let teapot = client
        .send_collect(get_req(&format!("{base}/teapot")), opts(2_000), 1 << 20)
        .await
        .unwrap();
    assert_eq!(teapot.status(), 418);
}

#[tokio::test]
async fn streams_the_body_chunk_by_chunk() {
    let base = serve().await;
    let client = ReqwestHttpClient::new().unwrap();
    let response = client
        .send(get_req(&format!("{base}/stream")), opts(2_000))
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut all = Vec::new();
    let mut pieces = 0;
    while let Some(chunk) = body.next().await {
        all.extend_from_slice(&chunk.unwrap());
        pieces += 1;
    }
    assert_eq!(all, b"chunk0;chunk1;chunk2;");
    assert!(pieces >= 2, "the body arrived in {pieces} piece(s)");
}

#[tokio::test]
async fn does_not_follow_redirects() {
    let base = serve().await;
    let client = ReqwestHttpClient::new().unwrap();
    let response = client
        .send(get_req(&format!("{base}/moved")), opts(2_000))
        .await
        .unwrap();
    assert_eq!(response.status(), 307);
}

#[tokio::test]
async fn a_slow_head_is_unavailable_without_query_or_headers_in_the_message() {
    let base = serve().await;
    let client = ReqwestHttpClient::new().unwrap();
    let request = http::Request::get(format!("{base}/slow?key=sekrit-query"))
        .header("x-api-key", "sekrit-header")
        .body(Bytes::new())
        .unwrap();
    let started = Instant::now();
    let error = client.send(request, opts(200)).await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.code(), Some(ErrorCode::UpstreamTimeout));
    let shown = error.to_string();
    assert!(!shown.contains("sekrit"), "{shown}");
}

#[tokio::test]
async fn a_refused_connection_is_unavailable_and_keeps_its_cause() {
    // Bind and drop to find a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = ReqwestHttpClient::new().unwrap();
    let url = format!("http://127.0.0.1:{port}/x?key=sekrit-query");
    let error = client.send(get_req(&url), opts(2_000)).await.err().unwrap();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.code(), Some(ErrorCode::UpstreamUnreachable));
    assert!(std::error::Error::source(&error).is_some());
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        chain.push_str(&s.to_string());
        source = s.source();
    }
    assert!(!chain.contains("sekrit"), "{chain}");
}

#[tokio::test]
async fn the_tokio_sleeper_waits() {
    let started = Instant::now();
    TokioSleeper.sleep(Duration::from_millis(60)).await;
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[tokio::test]
async fn a_body_that_stalls_mid_way_fails_after_the_timeout_but_a_steady_one_does_not() {
    let base = serve().await;
    let client = ReqwestHttpClient::new().unwrap();
    let response = client
        .send(get_req(&format!("{base}/stall")), opts(300))
        .await
        .unwrap();
    let mut body = response.into_body();
    assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"piece0");
    let error = body.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(error.code(), Some(ErrorCode::UpstreamTimeout));
    assert!(body.next().await.is_none());

    // Three pieces 50 ms apart take longer than nothing but never pause for 120 ms.
    let steady = client
        .send_collect(get_req(&format!("{base}/stream")), opts(120), 1 << 20)
        .await
        .unwrap();
    assert_eq!(steady.body().as_ref(), b"chunk0;chunk1;chunk2;");
}
