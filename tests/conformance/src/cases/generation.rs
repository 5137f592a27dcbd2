//! Generation through the offline demo models, which every runtime serves by default: text
//! (JSON and SSE), OpenAI's chat completions (plain and streamed), images, speech, voices and
//! stock search — each checked for its shape, its real output and what it charged.

use base64::Engine;
use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Ctx, Resp, ensure};
use crate::fixtures::Agent;

/// A fresh agent on a tier with generous limits and no rate, so cases measure only themselves.
pub(super) async fn roomy_agent(ctx: &Ctx) -> Result<Agent, String> {
    let (_, agent) = ctx.new_agent().await?;
    let tier = ctx
        .new_tier(json!({"limits": {"text_token": {"month": 1_000_000}, "image": {"month": 1000}, "audio_second": {"month": 10_000}, "stock_search": {"month": 1000}}}))
        .await?;
    ctx.set_tier(&agent.id, &tier).await?;
    Ok(agent)
}

/// Units used this month of `unit`.
pub(super) async fn used(ctx: &Ctx, key: &str, unit: &str) -> Result<u64, String> {
    let r = ctx.get("/v1/usage", Some(key)).await?.expect(200)?;
    let units = r.array_at("/units")?;
    units
        .iter()
        .find(|u| u["unit"] == unit)
        .and_then(|u| u["month"]["used"].as_u64())
        .ok_or_else(|| format!("GET /v1/usage: no month usage for {unit}: {}", r.quote()))
}

/// Parses an SSE body into (event name, data) pairs.
pub(super) fn events(r: &Resp) -> Vec<(Option<String>, String)> {
    r.text
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push(d);
                }
            }
            (event, data.join("\n"))
        })
        .collect()
}

pub(super) fn content_type(r: &Resp) -> &str {
    r.header("content-type").unwrap_or("")
}

/// `POST /v1/text/generate` answers text that quotes the prompt, and charges exactly the
/// tokens it reports.
pub(super) async fn text(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let body =
        json!({"model": "demo-text", "prompt": "Tell me about lighthouses", "max_tokens": 200});
    let r = ctx
        .post("/v1/text/generate", Some(&agent.key), &body)
        .await?
        .expect(200)?;
    ensure!(
        r.str_at("/text")?.contains("Tell me about lighthouses"),
        "the demo reply should quote the prompt: {}",
        r.quote()
    );
    r.expect_at("/model/id", &json!("demo-text"))?;
    let total = r.body["usage"]["total_tokens"]
        .as_u64()
        .ok_or("no usage.total_tokens")?;
    let sum = r.body["usage"]["prompt_tokens"].as_u64().unwrap_or(0)
        + r.body["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    ensure!(
        total == sum && total > 0,
        "usage does not add up: {}",
        r.quote()
    );
    let charged = used(ctx, &agent.key, "text_token").await?;
    ensure!(
        charged == total,
        "charged {charged} text_token for a call that used {total}"
    );
    Ok(())
}

/// `stream: true` answers SSE: a `model` event, `delta`s that reassemble the reply, and `done`
/// with the usage, which is what is charged.
pub(super) async fn text_stream(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let plain = ctx
        .post(
            "/v1/text/generate",
            Some(&agent.key),
            &json!({"model": "demo-text", "prompt": "stream this"}),
        )
        .await?
        .expect(200)?;
    let r = ctx
        .post(
            "/v1/text/generate",
            Some(&agent.key),
            &json!({"model": "demo-text", "prompt": "stream this", "stream": true}),
        )
        .await?
        .expect(200)?;
    ensure!(
        content_type(&r).starts_with("text/event-stream"),
        "expected text/event-stream, got {}",
        content_type(&r)
    );
    let evs = events(&r);
    ensure!(
        evs.first()
            .is_some_and(|(e, _)| e.as_deref() == Some("model")),
        "first event should be model: {evs:?}"
    );
    let mut text = String::new();
    for (event, data) in &evs {
        if event.as_deref() == Some("delta") {
            let v: Value =
                serde_json::from_str(data).map_err(|e| format!("bad delta {data}: {e}"))?;
            text.push_str(v["text"].as_str().unwrap_or(""));
        }
    }
    ensure!(
        text == plain.str_at("/text")?,
        "streamed text {text:?} differs from the plain reply"
    );
    let (_, done) = evs
        .last()
        .filter(|(e, _)| e.as_deref() == Some("done"))
        .ok_or(format!("no done event last: {evs:?}"))?;
    let done: Value = serde_json::from_str(done).map_err(|e| e.to_string())?;
    let total = done["usage"]["total_tokens"]
        .as_u64()
        .ok_or("done has no usage")?;
    let charged = used(ctx, &agent.key, "text_token").await?;
    let plain_total = plain.body["usage"]["total_tokens"].as_u64().unwrap_or(0);
    ensure!(
        charged == total + plain_total,
        "charged {charged}, expected {total} + {plain_total}"
    );
    Ok(())
}

/// `POST /v1/chat/completions` in OpenAI's shape, plain and streamed (chunks, a usage chunk
/// with `stream_options.include_usage`, then `[DONE]`).
pub(super) async fn chat_completions(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let body = json!({"model": "demo-text", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hello there"}]}], "user": "ignored-field"});
    let r = ctx
        .post("/v1/chat/completions", Some(&agent.key), &body)
        .await?
        .expect(200)?;
    r.expect_at("/object", &json!("chat.completion"))?;
    r.expect_at("/choices/0/message/role", &json!("assistant"))?;
    r.expect_at("/choices/0/finish_reason", &json!("stop"))?;
    ensure!(
        r.str_at("/id")?.starts_with("chatcmpl-"),
        "id should start with chatcmpl-: {}",
        r.quote()
    );
    ensure!(
        r.str_at("/choices/0/message/content")?
            .contains("hello there"),
        "reply: {}",
        r.quote()
    );
    ensure!(
        r.body["usage"]["total_tokens"]
            .as_u64()
            .is_some_and(|t| t > 0),
        "usage: {}",
        r.quote()
    );

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let s = ctx
        .post("/v1/chat/completions", Some(&agent.key), &streamed)
        .await?
        .expect(200)?;
    let evs = events(&s);
    ensure!(
        evs.last().is_some_and(|(_, d)| d == "[DONE]"),
        "the stream must end with [DONE]: {evs:?}"
    );
    let chunks: Vec<Value> = evs
        .iter()
        .filter(|(_, d)| d != "[DONE]")
        .filter_map(|(_, d)| serde_json::from_str(d).ok())
        .collect();
    ensure!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"),
        "every chunk is a chat.completion.chunk"
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    ensure!(
        text == r.str_at("/choices/0/message/content")?,
        "streamed {text:?} differs from the plain reply"
    );
    let usage_chunk = chunks.last().ok_or("no chunks")?;
    ensure!(
        usage_chunk["choices"] == json!([])
            && usage_chunk["usage"]["total_tokens"].as_u64().is_some(),
        "the last chunk should carry usage: {usage_chunk}"
    );
    Ok(())
}

fn decode_b64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("bad base64: {e}"))
}

/// Images, native and OpenAI-shaped, are real PNGs; each image is one `image` unit.
pub(super) async fn images(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let r = ctx
        .post(
            "/v1/images/generate",
            Some(&agent.key),
            &json!({"model": "demo-image", "prompt": "a red lighthouse", "n": 2, "size": "64x48"}),
        )
        .await?
        .expect(200)?;
    let images = r.array_at("/images")?;
    ensure!(images.len() == 2, "asked for 2 images: {}", r.quote());
    for image in images {
        let png = decode_b64(image["b64_json"].as_str().unwrap_or(""))?;
        ensure!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        // Width and height are big-endian at bytes 16..24 of the IHDR chunk.
        let dims = (
            u32::from_be_bytes([png[16], png[17], png[18], png[19]]),
            u32::from_be_bytes([png[20], png[21], png[22], png[23]]),
        );
        ensure!(dims == (64, 48), "PNG is {dims:?}, asked 64x48");
    }
    let o = ctx
        .post("/v1/images/generations", Some(&agent.key), &json!({"model": "demo-image", "prompt": "a cat", "size": "32x32", "response_format": "b64_json"}))
        .await?
        .expect(200)?;
    let png = decode_b64(o.str_at("/data/0/b64_json")?)?;
    ensure!(
        png.starts_with(b"\x89PNG"),
        "OpenAI-shaped image is not a PNG"
    );
    ensure!(
        o.body["created"].as_i64().is_some(),
        "created missing: {}",
        o.quote()
    );
    let charged = used(ctx, &agent.key, "image").await?;
    ensure!(charged == 3, "3 images made, {charged} charged");
    Ok(())
}

/// `POST /v1/audio/speech` answers real WAV audio; the seconds charged are the measured
/// seconds rounded up.
pub(super) async fn speech(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let body = json!({"model": "demo-speech", "input": "Hello from the lighthouse keeper, this is a test.", "voice": "alloy"});
    let r = ctx
        .post("/v1/audio/speech", Some(&agent.key), &body)
        .await?
        .expect(200)?;
    ensure!(
        content_type(&r) == "audio/wav",
        "content-type {}",
        content_type(&r)
    );
    ensure!(
        r.bytes.len() > 44 && &r.bytes[..4] == b"RIFF" && &r.bytes[8..12] == b"WAVE",
        "not a WAV file"
    );
    let seconds: f64 = r
        .header("x-molts-audio-seconds")
        .and_then(|v| v.parse().ok())
        .ok_or("no x-molts-audio-seconds")?;
    let byte_rate = u32::from_le_bytes([r.bytes[28], r.bytes[29], r.bytes[30], r.bytes[31]]);
    let measured = (r.bytes.len() - 44) as f64 / f64::from(byte_rate.max(1));
    ensure!(
        (measured - seconds).abs() < 0.01,
        "header says {seconds}s, the audio is {measured}s"
    );
    let charged = used(ctx, &agent.key, "audio_second").await?;
    ensure!(
        charged == seconds.ceil() as u64,
        "{seconds}s of audio charged as {charged}"
    );
    let bad = ctx
        .post(
            "/v1/audio/speech",
            Some(&agent.key),
            &json!({"model": "demo-speech", "input": "x", "voice": "nobody"}),
        )
        .await?;
    bad.expect_error(400, Some("invalid_value"))?;
    Ok(())
}

/// Voices and stock search in their list shapes; a search is one `stock_search` unit.
pub(super) async fn voices_and_stock(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let v = ctx
        .get("/v1/audio/voices?model=demo-speech", Some(&agent.key))
        .await?
        .expect(200)?;
    ensure!(!v.array_at("/data")?.is_empty(), "no voices: {}", v.quote());
    let s = ctx
        .post(
            "/v1/stock/search",
            Some(&agent.key),
            &json!({"model": "demo-stock", "query": "lighthouse", "type": "videos", "per_page": 5}),
        )
        .await?
        .expect(200)?;
    let media = s.array_at("/media")?;
    ensure!(
        !media.is_empty()
            && media
                .iter()
                .all(|m| m["type"] == "video" && m["url"].is_string() && m["provider"].is_string()),
        "media: {}",
        s.quote()
    );
    ensure!(
        s.body["total_results"].as_u64().is_some()
            && s.body["page"] == 1
            && s.body["per_page"] == 5,
        "paging fields: {}",
        s.quote()
    );
    let charged = used(ctx, &agent.key, "stock_search").await?;
    ensure!(charged == 1, "one search, {charged} charged");
    Ok(())
}

/// Bad generation requests are clear 4xx errors and charge nothing.
pub(super) async fn generation_errors(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let k = Some(agent.key.as_str());
    ctx.post(
        "/v1/text/generate",
        k,
        &json!({"model": "no-such-model", "prompt": "x"}),
    )
    .await?
    .expect_error(404, Some("model_not_found"))?;
    ctx.post(
        "/v1/text/generate",
        k,
        &json!({"model": "demo-image", "prompt": "x"}),
    )
    .await?
    .expect_error(400, Some("invalid_value"))?;
    ctx.post("/v1/text/generate", k, &json!({"model": "demo-text"}))
        .await?
        .expect_error(400, Some("invalid_value"))?;
    ctx.post(
        "/v1/images/generate",
        k,
        &json!({"model": "demo-image", "prompt": "x", "n": 0}),
    )
    .await?
    .expect_error(400, Some("invalid_value"))?;
    ctx.post(
        "/v1/images/generate",
        k,
        &json!({"model": "demo-image", "prompt": "x", "size": "99999x1"}),
    )
    .await?
    .expect_error(400, Some("invalid_value"))?;
    ctx.post(
        "/v1/chat/completions",
        k,
        &json!({"messages": [{"role": "user", "content": "x"}]}),
    )
    .await?
    .expect_error(400, None)?;
    ctx.post(
        "/v1/chat/completions",
        k,
        &json!({"model": "demo-text", "messages": "hi"}),
    )
    .await?
    .expect_error(400, Some("invalid_value"))?;
    ctx.post(
        "/v1/stock/search",
        k,
        &json!({"query": "x", "type": "gifs"}),
    )
    .await?
    .expect_error(400, Some("invalid_value"))?;
    for unit in ["text_token", "image", "stock_search"] {
        let charged = used(ctx, &agent.key, unit).await?;
        ensure!(charged == 0, "failed requests charged {charged} {unit}");
    }
    Ok(())
}

/// 200 concurrent image requests with 10 images left: exactly 10 succeed, the rest are 429
/// `quota_exceeded`, and exactly the limit is used.
pub(super) async fn quota_exact_under_concurrency(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let tier = ctx
        .new_tier(json!({"limits": {"image": {"month": 10}}}))
        .await?;
    ctx.set_tier(&agent.id, &tier).await?;
    let body = json!({"model": "demo-image", "prompt": "race", "size": "16x16"});
    let requests = (0..200).map(|_| ctx.post("/v1/images/generate", Some(&agent.key), &body));
    let replies = futures::future::join_all(requests).await;
    let (mut ok, mut exceeded) = (0, 0);
    for reply in replies {
        let r = reply?;
        match r.status {
            200 => ok += 1,
            429 if r.body["error"]["code"] == "quota_exceeded" => exceeded += 1,
            other => return Err(format!("{}: unexpected {other}: {}", r.what, r.quote())),
        }
    }
    ensure!(
        ok == 10 && exceeded == 190,
        "expected 10 successes and 190 quota_exceeded, got {ok} and {exceeded}"
    );
    let charged = used(ctx, &agent.key, "image").await?;
    ensure!(
        charged == 10,
        "usage shows {charged} images, expected exactly 10"
    );
    Ok(())
}

/// Configs sharing an alias: a request naming the alias is balanced across them by weight, a
/// member whose provider fails hands the request to the next, a weight-0 member serves only as
/// a fallback, the alias is listed in `/v1/models`, and an alias may not shadow a model id.
pub(super) async fn aliases(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let alias = ctx.unique("alias");
    let a = ctx
        .new_model("text", json!({"alias": alias, "weight": 1}))
        .await?;
    let b = ctx
        .new_model("text", json!({"alias": alias, "weight": 1}))
        .await?;
    let body = json!({"model": alias, "prompt": "balance me"});
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let r = ctx
            .post("/v1/text/generate", Some(&agent.key), &body)
            .await?
            .expect(200)?;
        seen.insert(r.str_at("/model/id")?.to_owned());
    }
    // With equal weights, 40 draws all landing on one member has odds of 2 in 2^40.
    ensure!(
        seen.len() == 2 && seen.contains(&a) && seen.contains(&b),
        "alias traffic went only to {seen:?}"
    );

    // A member that cannot be reached (nothing listens on port 9) is skipped for the other one.
    let broken_alias = ctx.unique("alias");
    let broken = ctx
        .new_model("text", json!({
            "alias": broken_alias, "weight": 1000, "provider": "template",
            "payload_mapping": {"endpoint": "http://127.0.0.1:9/generate", "body": {"p": "{prompt}"}, "response_mapping": {"text": "$.text"}}
        }))
        .await?;
    let standby = ctx
        .new_model("text", json!({"alias": broken_alias, "weight": 0}))
        .await?;
    let r = ctx
        .post(
            "/v1/text/generate",
            Some(&agent.key),
            &json!({"model": broken_alias, "prompt": "fall over"}),
        )
        .await?
        .expect(200)?;
    ensure!(
        r.str_at("/model/id")? == standby,
        "expected the standby {standby} to serve after {broken} failed: {}",
        r.quote()
    );

    let models = ctx.get("/v1/models", Some(&agent.key)).await?.expect(200)?;
    let ids = models.list_ids()?;
    ensure!(
        ids.contains(&alias) && ids.contains(&broken_alias),
        "aliases missing from /v1/models: {ids:?}"
    );
    let one = ctx
        .get(&format!("/v1/models/{alias}"), Some(&agent.key))
        .await?
        .expect(200)?;
    one.expect_at("/owned_by", &json!("molts"))?;

    // An alias equal to a model id, or an id equal to an alias, would be ambiguous.
    ctx.post(
        "/v1/admin/models",
        Some(ctx.admin()),
        &ctx.model_body("text", json!({"alias": a})),
    )
    .await?
    .expect_error(400, None)?
    .expect_at("/error/param", &json!("alias"))?;
    ctx.post(
        "/v1/admin/models",
        Some(ctx.admin()),
        &ctx.model_body("text", json!({"id": alias})),
    )
    .await?
    .expect_error(400, None)?
    .expect_at("/error/param", &json!("id"))?;
    Ok(())
}

/// A hold bounds what its call may charge: a free agent (600 audio seconds a month) asking for
/// 2,048 words at a quarter speed is refused before any audio is made (it once got 984 s of
/// audio charged against 600) and nothing stays held; speeds outside 0.25–4 are refused; a
/// shorter text at a quarter speed fits and is charged within the limit.
pub(super) async fn holds_bound_the_charge(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let words = "a ".repeat(2048);
    let slow =
        json!({"model": "demo-speech", "input": words.trim_end(), "voice": "alloy", "speed": 0.25});
    ctx.post("/v1/audio/speech", Some(&agent.key), &slow)
        .await?
        .expect_error(429, Some("quota_exceeded"))?;
    let held = used(ctx, &agent.key, "audio_second").await?;
    ensure!(held == 0, "a refused call left {held} audio seconds used");
    for speed in [0.0, 5.0] {
        let bad = json!({"model": "demo-speech", "input": "hello", "speed": speed});
        ctx.post("/v1/audio/speech", Some(&agent.key), &bad)
            .await?
            .expect_error(400, Some("invalid_value"))?;
    }
    // 50 words at a quarter speed: about 24 s of WAV, well inside every runtime's response cap.
    let short = json!({"model": "demo-speech", "input": "a ".repeat(50).trim_end(), "voice": "alloy", "speed": 0.25});
    ctx.post("/v1/audio/speech", Some(&agent.key), &short)
        .await?
        .expect(200)?;
    let charged = used(ctx, &agent.key, "audio_second").await?;
    ensure!(
        (1..=600).contains(&charged),
        "50 words at a quarter speed charged {charged} of 600 audio seconds"
    );
    Ok(())
}
