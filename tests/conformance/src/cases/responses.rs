//! `POST /v1/responses`, OpenAI's Responses API, through the offline demo text model: the
//! Response object for string and item-list input, the documented event sequence when
//! streamed, the usage it reports being what is charged, the cap ending a reply as
//! `incomplete`, an exhausted quota refused before any work, and what molts cannot do (images,
//! files, tools, `previous_response_id`) refused naming the parameter. Then the real OpenAI and
//! Anthropic adapters behind it, against the fake providers the suite runs (which needs the
//! server's `MOLTS_SECRET_KEY`, as `jobs::provider_hosted_output` does).

use serde_json::{Value, json};

use super::generation::{content_type, events, roomy_agent, used};
use crate::CaseResult;
use crate::client::{Ctx, Resp, ensure};

const PATH: &str = "/v1/responses";

/// The usage of a Response, checked to add up: (input, output, total).
fn usage_of(what: &str, response: &Value) -> Result<(u64, u64, u64), String> {
    let usage = &response["usage"];
    let (Some(input), Some(output), Some(total)) = (
        usage["input_tokens"].as_u64(),
        usage["output_tokens"].as_u64(),
        usage["total_tokens"].as_u64(),
    ) else {
        return Err(format!("{what}: no usage in {response}"));
    };
    ensure!(
        input > 0 && output > 0 && total == input + output,
        "{what}: usage does not add up: {usage}"
    );
    Ok((input, output, total))
}

/// The one output message's text, checking the item's documented shape on the way.
fn output_text(what: &str, response: &Value, status: &str) -> Result<String, String> {
    let output = response["output"].as_array().map_or(&[][..], Vec::as_slice);
    let [message] = output else {
        return Err(format!("{what}: expected one output item: {response}"));
    };
    ensure!(
        message["type"] == "message"
            && message["role"] == "assistant"
            && message["status"] == status
            && message["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("msg_")),
        "{what}: output[0] is not an assistant message with status {status}: {message}"
    );
    let part = &message["content"][0];
    ensure!(
        part["type"] == "output_text" && part["annotations"] == json!([]),
        "{what}: content[0] is not an output_text part: {message}"
    );
    part["text"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what}: no text in {message}"))
}

/// A plain Response: its documented fields, the echoed settings, and usage equal to the charge.
pub(super) async fn plain(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let body = json!({
        "model": "demo-text", "input": "Tell me about lighthouses", "instructions": "be brief",
        "max_output_tokens": 500, "temperature": 0.5, "metadata": {"run": "conformance"},
        "user": "end-user-1", "store": true,
    });
    let r = ctx.post(PATH, Some(&agent.key), &body).await?.expect(200)?;
    ensure!(
        r.str_at("/id")?.starts_with("resp_"),
        "id should start with resp_: {}",
        r.quote()
    );
    r.expect_at("/object", &json!("response"))?;
    r.expect_at("/status", &json!("completed"))?;
    r.expect_at("/model", &json!("demo-text"))?;
    r.expect_at("/instructions", &json!("be brief"))?;
    r.expect_at("/max_output_tokens", &json!(500))?;
    r.expect_at("/temperature", &json!(0.5))?;
    r.expect_at("/metadata", &json!({"run": "conformance"}))?;
    r.expect_at("/user", &json!("end-user-1"))?;
    r.expect_at("/error", &Value::Null)?;
    r.expect_at("/incomplete_details", &Value::Null)?;
    r.expect_at("/previous_response_id", &Value::Null)?;
    // Nothing is kept, whatever `store` asked.
    r.expect_at("/store", &json!(false))?;
    r.expect_at("/tools", &json!([]))?;
    ensure!(
        r.body["created_at"].as_i64().is_some_and(|t| t > 0),
        "created_at: {}",
        r.quote()
    );
    let text = output_text(&r.what, &r.body, "completed")?;
    ensure!(
        text.contains("Tell me about lighthouses"),
        "the demo reply should quote the input: {text:?}"
    );
    let (_, _, total) = usage_of(&r.what, &r.body)?;
    let charged = used(ctx, &agent.key, "text_token").await?;
    ensure!(
        charged == total,
        "charged {charged} text_token for a response that used {total}"
    );
    Ok(())
}

/// Item-list input: roles and `input_text` parts reach the model (the demo quotes the last
/// user message), an earlier assistant turn as `output_text` is accepted, and a reply cut by
/// `max_output_tokens` is `incomplete` with the reason.
pub(super) async fn item_list(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let input = json!([
        {"role": "developer", "content": "answer in one line"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "first question"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "first answer"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "second "}, {"type": "input_text", "text": "question"}]},
    ]);
    let r = ctx
        .post(
            PATH,
            Some(&agent.key),
            &json!({"model": "demo-text", "input": input}),
        )
        .await?
        .expect(200)?;
    let text = output_text(&r.what, &r.body, "completed")?;
    ensure!(
        text.contains("\"second question\""),
        "the reply should quote the last user message, its parts joined: {text:?}"
    );
    let cut = ctx
        .post(
            PATH,
            Some(&agent.key),
            &json!({"model": "demo-text", "input": input, "max_output_tokens": 3}),
        )
        .await?
        .expect(200)?;
    cut.expect_at("/status", &json!("incomplete"))?;
    cut.expect_at(
        "/incomplete_details",
        &json!({"reason": "max_output_tokens"}),
    )?;
    let short = output_text(&cut.what, &cut.body, "incomplete")?;
    ensure!(
        short.chars().count() <= 12 && !short.is_empty(),
        "3 tokens of output should be at most 12 characters: {short:?}"
    );
    Ok(())
}

/// The documented events in order, each an SSE `event:` naming its `type` and numbered from 0;
/// the deltas make the plain reply, and `response.completed` carries the usage that is charged.
pub(super) async fn streaming(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let body = json!({"model": "demo-text", "input": "stream this to me"});
    let plain = ctx.post(PATH, Some(&agent.key), &body).await?.expect(200)?;
    let plain_text = output_text(&plain.what, &plain.body, "completed")?;
    let (_, _, plain_total) = usage_of(&plain.what, &plain.body)?;
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let s = ctx
        .post(PATH, Some(&agent.key), &streamed)
        .await?
        .expect(200)?;
    ensure!(
        content_type(&s).starts_with("text/event-stream"),
        "expected text/event-stream, got {}",
        content_type(&s)
    );
    let mut names = Vec::new();
    let mut data = Vec::new();
    for (i, (event, raw)) in events(&s).into_iter().enumerate() {
        let event = event.ok_or(format!("frame {i} has no event: line: {raw}"))?;
        let value: Value =
            serde_json::from_str(&raw).map_err(|e| format!("frame {i} is not JSON: {e}: {raw}"))?;
        ensure!(
            value["type"] == event.as_str() && value["sequence_number"] == i as u64,
            "frame {i} ({event}) should carry type {event} and sequence_number {i}: {raw}"
        );
        names.push(event);
        data.push(value);
    }
    let deltas = names
        .iter()
        .filter(|n| *n == "response.output_text.delta")
        .count();
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    expected.extend(std::iter::repeat_n("response.output_text.delta", deltas));
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    ensure!(
        deltas > 1 && names == expected,
        "events out of the documented order: {names:?}"
    );
    let id = data[0]["response"]["id"].clone();
    ensure!(
        data[0]["response"]["status"] == "in_progress"
            && data.last().is_some_and(|d| d["response"]["id"] == id),
        "created and completed should be one in-progress-then-completed response: {id}"
    );
    let text: String = data
        .iter()
        .filter(|d| d["type"] == "response.output_text.delta")
        .filter_map(|d| d["delta"].as_str())
        .collect();
    ensure!(
        text == plain_text,
        "streamed {text:?} differs from the plain reply {plain_text:?}"
    );
    let done = &data[data.len() - 1]["response"];
    ensure!(
        done["status"] == "completed"
            && output_text("response.completed", done, "completed")? == text,
        "response.completed should hold the whole text: {done}"
    );
    let (_, _, total) = usage_of("response.completed", done)?;
    let charged = used(ctx, &agent.key, "text_token").await?;
    ensure!(
        charged == total + plain_total,
        "charged {charged}, expected {total} + {plain_total}"
    );
    Ok(())
}

/// A tier with one text token a month refuses a Response before any work, plain or streamed,
/// as a 429 `quota_exceeded` in the one error format, and nothing stays charged.
pub(super) async fn quota_refused(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let tier = ctx
        .new_tier(json!({"limits": {"text_token": {"month": 1}}}))
        .await?;
    ctx.set_tier(&agent.id, &tier).await?;
    for stream in [false, true] {
        let body = json!({"model": "demo-text", "input": "hello", "stream": stream});
        ctx.post(PATH, Some(&agent.key), &body)
            .await?
            .expect_error(429, Some("quota_exceeded"))?;
    }
    let charged = used(ctx, &agent.key, "text_token").await?;
    ensure!(
        charged == 0,
        "refused responses charged {charged} text_token"
    );
    Ok(())
}

fn expect_param(r: Resp, code: &str, param: &str) -> CaseResult {
    r.expect_error(400, Some(code))?
        .expect_at("/error/param", &json!(param))?;
    Ok(())
}

/// What molts cannot serve is a 400 naming the parameter, and charges nothing.
pub(super) async fn bad_inputs(ctx: &Ctx) -> CaseResult {
    let agent = roomy_agent(ctx).await?;
    let k = Some(agent.key.as_str());
    let image = json!([{"role": "user", "content": [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": "https://example.com/a.png"},
    ]}]);
    let file = json!([{"role": "user", "content": [{"type": "input_file", "file_id": "file_1"}]}]);
    let tool_output = json!([{"type": "function_call_output", "call_id": "c1", "output": "42"}]);
    for (body, param) in [
        (
            json!({"model": "demo-text", "input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            json!({"model": "demo-text", "input": image}),
            "input[0].content[1]",
        ),
        (
            json!({"model": "demo-text", "input": file}),
            "input[0].content[0]",
        ),
        (
            json!({"model": "demo-text", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": {}}]}),
            "tools",
        ),
        (
            json!({"model": "demo-text", "input": tool_output}),
            "input[0]",
        ),
        (json!({"model": "demo-text"}), "input"),
        (json!({"model": "demo-text", "input": []}), "input"),
        (json!({"model": "demo-text", "input": 42}), "input"),
        (
            json!({"model": "demo-text", "input": "x", "max_output_tokens": 0}),
            "max_output_tokens",
        ),
        (
            json!({"model": "demo-text", "input": [{"role": "tool", "content": "x"}]}),
            "input[0].role",
        ),
    ] {
        expect_param(ctx.post(PATH, k, &body).await?, "invalid_value", param)?;
    }
    ctx.post(PATH, k, &json!({"model": "no-such-model", "input": "x"}))
        .await?
        .expect_error(404, Some("model_not_found"))?;
    ctx.post(PATH, k, &json!({"model": "demo-image", "input": "x"}))
        .await?
        .expect_error(400, Some("invalid_value"))?;
    let charged = used(ctx, &agent.key, "text_token").await?;
    ensure!(
        charged == 0,
        "refused responses charged {charged} text_token"
    );
    Ok(())
}

/// The (event, data) pairs of a streamed Response, each data parsed.
fn stream_events(s: &Resp) -> Result<Vec<(String, Value)>, String> {
    events(s)
        .into_iter()
        .map(|(event, raw)| {
            let value = serde_json::from_str(&raw).map_err(|e| format!("{e}: {raw}"))?;
            Ok((event.unwrap_or_default(), value))
        })
        .collect()
}

/// Real provider adapters behind the Responses API: OpenAI's and Anthropic's, pointed at the
/// fake providers the suite runs. `instructions` reaches each as its system text, the cap as its
/// token limit, plain and streamed replies agree, and a provider's error mid-stream ends the
/// stream with `error` then `response.failed`.
pub(super) async fn providers(ctx: &Ctx) -> CaseResult {
    let fake = molts_fakes::FakeServer::start()
        .await
        .map_err(|e| format!("cannot start the fake providers: {e}"))?;
    let (instance, agent) = ctx.new_agent().await?;
    let tier = ctx
        .new_tier(json!({"limits": {"text_token": {"month": 1_000_000}}}))
        .await?;
    ctx.set_tier(&agent.id, &tier).await?;
    for provider in ["openai", "anthropic"] {
        let key =
            json!({"api_key": molts_fakes::key(provider), "base_url": fake.base_url(provider)});
        let put = ctx
            .put(
                &format!("/v1/admin/instances/{instance}/provider-keys/{provider}"),
                Some(ctx.admin()),
                &key,
            )
            .await?;
        ensure!(
            put.status == 200,
            "setting the instance's {provider} key needs MOLTS_SECRET_KEY on the server; got {}",
            put.quote()
        );
    }
    for (model, provider) in [("gpt-4o-mini", "openai"), ("claude-3-5-haiku", "anthropic")] {
        let body = json!({
            "model": model, "instructions": "answer kindly", "max_output_tokens": 50,
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hello lighthouse keeper"}]}],
        });
        let r = ctx.post(PATH, Some(&agent.key), &body).await?.expect(200)?;
        r.expect_at("/model", &json!(model))?;
        let text = output_text(&r.what, &r.body, "completed")?;
        // The fakes answer "echo:" and the last user message's words.
        ensure!(
            text == "echo: hello lighthouse keeper",
            "{model}: unexpected reply {text:?}"
        );
        usage_of(&r.what, &r.body)?;
        let sent = fake
            .requests(provider)
            .into_iter()
            .rev()
            .find(|q| q.body["model"].is_string())
            .ok_or(format!("the fake {provider} received no request"))?
            .body;
        let (system, cap) = match provider {
            "openai" => (
                sent["messages"][0]["content"].clone(),
                sent["max_completion_tokens"]
                    .as_u64()
                    .or(sent["max_tokens"].as_u64()),
            ),
            _ => (sent["system"].clone(), sent["max_tokens"].as_u64()),
        };
        ensure!(
            system == "answer kindly" && cap == Some(50),
            "{provider} was not sent the instructions as system text and the cap: {sent}"
        );

        let mut streamed = body.clone();
        streamed["stream"] = json!(true);
        let s = ctx
            .post(PATH, Some(&agent.key), &streamed)
            .await?
            .expect(200)?;
        let evs = stream_events(&s)?;
        let deltas: String = evs
            .iter()
            .filter(|(e, _)| e == "response.output_text.delta")
            .filter_map(|(_, d)| d["delta"].as_str())
            .collect();
        let last = evs.last().map(|(e, _)| e.as_str());
        ensure!(
            deltas == text && last == Some("response.completed"),
            "{model}: streamed {deltas:?} ending with {last:?}, plain {text:?}"
        );
    }

    // The fake OpenAI sends two events, then its in-stream error.
    let failing = json!({"model": "gpt-4o-mini", "stream": true,
        "input": "tell me more [[fake-fault:error-event-after=2]]"});
    let s = ctx
        .post(PATH, Some(&agent.key), &failing)
        .await?
        .expect(200)?;
    let evs = stream_events(&s)?;
    let names: Vec<&str> = evs.iter().map(|(e, _)| e.as_str()).collect();
    ensure!(
        names.ends_with(&["error", "response.failed"]) && !names.contains(&"response.completed"),
        "a provider error mid-stream should end with error, response.failed: {names:?}"
    );
    let (_, error) = &evs[evs.len() - 2];
    let (_, failed) = &evs[evs.len() - 1];
    ensure!(
        error["code"].is_string()
            && error["message"].as_str().is_some_and(|m| !m.is_empty())
            && failed["response"]["status"] == "failed"
            && failed["response"]["error"]["code"] == error["code"],
        "error and response.failed should carry one code: {error} / {failed}"
    );
    Ok(())
}
