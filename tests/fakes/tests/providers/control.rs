//! The fake's own controls, over HTTP as a black-box test would use them: queueing faults with
//! `POST /_fake/faults`, the `x-fake-fault` header, a `[[fake-fault:…]]` marker in a prompt, the
//! request log, and the image URLs the image endpoints hand out.

use molts_core::ErrorCode;
use std::time::Duration;

use bytes::Bytes;
use molts_core::ErrorKind;
use molts_core::ports::{HttpClientExt, RequestOptions};
use molts_reqwest::ReqwestHttpClient;
use serde_json::{Value, json};

use crate::common::{How, Op, chat, env, expect, seeded};

async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let client = ReqwestHttpClient::new().unwrap();
    let mut request = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    let request = request
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let options = RequestOptions {
        timeout: Duration::from_secs(5),
    };
    let response = client
        .send_collect(request, options, 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    (response.status().as_u16(), json)
}

#[tokio::test]
async fn faults_queue_over_http_and_are_spent_in_order() {
    let env = env().await;
    let url = format!("{}/_fake/faults", env.fake.url());
    let (status, pending) = send(
        "POST",
        &url,
        &[],
        Some(json!({"provider": "openai", "fault": "status=503", "times": 2})),
    )
    .await;
    assert_eq!((status, pending), (200, json!({"openai": 2})));
    let (status, _) = send(
        "POST",
        &url,
        &[],
        Some(json!({"provider": "nobody", "fault": "status=503"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send(
        "POST",
        &url,
        &[],
        Some(json!({"provider": "openai", "fault": "explode"})),
    )
    .await;
    assert_eq!(status, 400);

    let model = seeded("gpt-4o-mini");
    expect(
        env.run(&model, Op::Text, How::default()).await,
        ErrorKind::Unavailable,
        ErrorCode::ProviderUnavailable,
    );
    assert_eq!(send("GET", &url, &[], None).await.1, json!({"openai": 1}));
    assert_eq!(send("DELETE", &url, &[], None).await.0, 204);
    env.run(&model, Op::Text, How::default()).await.unwrap();

    let (_, log) = send(
        "GET",
        &format!("{}/_fake/requests?provider=openai", env.fake.url()),
        &[],
        None,
    )
    .await;
    assert_eq!(log.as_array().map(Vec::len), Some(2));
    assert_eq!(log[0]["path"], json!("/v1/chat/completions"));
}

#[tokio::test]
async fn a_header_or_a_prompt_marker_injects_a_fault_for_one_request() {
    let env = env().await;
    let chat_url = format!("{}/chat/completions", env.fake.base_url("openai"));
    let auth = format!("Bearer {}", molts_fakes::key("openai"));
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let (status, error) = send(
        "POST",
        &chat_url,
        &[
            ("authorization", &auth),
            ("x-fake-fault", "status=429,retry-after=3"),
        ],
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(error["error"]["code"], json!("rate_limit_exceeded"));
    let (status, ok) = send("POST", &chat_url, &[("authorization", &auth)], Some(body)).await;
    assert_eq!(status, 200);
    assert_eq!(ok["choices"][0]["message"]["content"], json!("echo: hi"));

    // A caller that only controls the prompt can still reach the fault.
    let e = env
        .text(
            &seeded("gpt-4o-mini"),
            &chat("[[fake-fault:status=502]] hi"),
        )
        .await
        .map(|_| ());
    expect(e, ErrorKind::Unavailable, ErrorCode::ProviderUnavailable);
}

#[tokio::test]
async fn image_urls_serve_real_pngs_and_unknown_paths_are_the_providers_404() {
    let env = env().await;
    let client = ReqwestHttpClient::new().unwrap();
    let url = format!("{}/_fake/images/ff8000.png", env.fake.url());
    let request = http::Request::get(url).body(Bytes::new()).unwrap();
    let options = RequestOptions {
        timeout: Duration::from_secs(5),
    };
    let response = client
        .send_collect(request, options, 1 << 20)
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    assert!(response.body().starts_with(b"\x89PNG"));

    let auth = format!("Bearer {}", molts_fakes::key("openai"));
    let (status, body) = send(
        "GET",
        &format!("{}/nope", env.fake.base_url("openai")),
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(body["error"]["message"].is_string());
}

#[tokio::test]
async fn the_binary_prints_where_it_listens_and_serves_there() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_molts-fakes"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = line.strip_prefix("fakes listening on ").unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    let (status, pending) = send("GET", &format!("{base}/_fake/faults"), &[], None).await;
    assert_eq!((status, pending), (200, json!({})));
    child.kill().await.unwrap();
}
