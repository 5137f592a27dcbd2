//! An agent's own keys: create (secret once), use, list, revoke, and no reach into others' keys.

use reqwest::Method;
use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Body, Ctx, ensure};

/// Second key created (201, `key` once), used, first revoked (204) and then refused (401).
pub(super) async fn lifecycle(ctx: &Ctx) -> CaseResult {
    let (_, agent) = ctx.new_agent().await?;
    let r = ctx
        .post("/v1/keys", Some(&agent.key), &json!({"name": "second"}))
        .await?
        .expect(201)?;
    let second = r.str_at("/key")?.to_owned();
    let second_id = r.str_at("/id")?.to_owned();
    ensure!(
        second.starts_with("ml_") && second.len() == 67 && second != agent.key,
        "POST /v1/keys: expected a new 67-char ml_ key, got {}",
        r.quote()
    );
    r.expect_at("/name", &Value::from("second"))?;
    let prefix = r.str_at("/prefix")?;
    ensure!(
        second.starts_with(prefix),
        "POST /v1/keys: prefix {prefix:?} does not start the key"
    );

    ctx.get("/v1/agents/me", Some(&second))
        .await?
        .expect(200)?
        .expect_at("/agent_id", &Value::from(agent.id.as_str()))?;

    let list = ctx.get("/v1/keys", Some(&second)).await?.expect(200)?;
    let data = list.array_at("/data")?;
    let current = |id: &str| {
        data.iter()
            .find(|k| k["id"] == id)
            .map(|k| k["current"].clone())
    };
    ensure!(
        current(&second_id) == Some(Value::Bool(true))
            && current(&agent.key_id) == Some(Value::Bool(false)),
        "GET /v1/keys with the second key: expected both keys, the second marked current; got {}",
        list.quote()
    );
    for secret in [&agent.key, &second] {
        ensure!(
            !list.text.contains(secret.as_str()),
            "GET /v1/keys shows a secret: {}",
            list.quote()
        );
    }

    let r = ctx
        .delete(&format!("/v1/keys/{}", agent.key_id), Some(&second))
        .await?
        .expect(204)?;
    ensure!(
        r.text.is_empty(),
        "DELETE /v1/keys/{{id}}: 204 must have no body, got {:?}",
        r.text
    );
    ctx.get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect_error(401, Some("invalid_api_key"))?;
    ctx.get("/v1/agents/me", Some(&second)).await?.expect(200)?;
    let list = ctx.get("/v1/keys", Some(&second)).await?.expect(200)?;
    let old = list
        .array_at("/data")?
        .iter()
        .find(|k| k["id"] == agent.key_id.as_str());
    ensure!(
        old.is_some_and(|k| k["revoked_at"].is_string()),
        "GET /v1/keys: the revoked key must stay listed with revoked_at set; got {}",
        list.quote()
    );
    // Revoking it again finds no live key.
    ctx.delete(&format!("/v1/keys/{}", agent.key_id), Some(&second))
        .await?
        .expect_error(404, None)?;

    // A bare POST takes defaults; an expiry is honoured and validated.
    let r = ctx
        .send(Method::POST, "/v1/keys", Some(&second), Body::Empty)
        .await?
        .expect(201)?;
    let third = r.str_at("/key")?.to_owned();
    let r = ctx
        .post(
            "/v1/keys",
            Some(&second),
            &json!({"name": "short-lived", "expires_in_days": 30}),
        )
        .await?
        .expect(201)?;
    ensure!(
        r.body["expires_at"].is_string(),
        "POST /v1/keys with expires_in_days: no expires_at in {}",
        r.quote()
    );
    ctx.post("/v1/keys", Some(&second), &json!({"expires_in_days": 0}))
        .await?
        .expect_error(400, Some("invalid_value"))?
        .expect_at("/error/param", &Value::from("expires_in_days"))?;

    // A key may revoke itself; the others stay.
    ctx.delete(&format!("/v1/keys/{second_id}"), Some(&second))
        .await?
        .expect(204)?;
    ctx.get("/v1/agents/me", Some(&second))
        .await?
        .expect_error(401, None)?;
    ctx.get("/v1/agents/me", Some(&third)).await?.expect(200)?;
    Ok(())
}

/// Revoking another agent's key id (or an unknown one) is 404 and changes nothing.
pub(super) async fn stranger_key(ctx: &Ctx) -> CaseResult {
    let (instance, a) = ctx.new_agent().await?;
    let b = ctx.register_in(&instance).await?;
    let (_, c) = ctx.new_agent().await?;
    for stranger in [&b, &c] {
        ctx.delete(&format!("/v1/keys/{}", stranger.key_id), Some(&a.key))
            .await?
            .expect_error(404, None)?;
        ctx.get("/v1/agents/me", Some(&stranger.key))
            .await?
            .expect(200)?;
    }
    ctx.delete(&format!("/v1/keys/{}", ctx.unique("key")), Some(&a.key))
        .await?
        .expect_error(404, None)?;
    let list = ctx.get("/v1/keys", Some(&a.key)).await?.expect(200)?;
    ensure!(
        list.list_ids()? == [a.key_id.clone()],
        "GET /v1/keys must list only the caller's own key {}, got {}",
        a.key_id,
        list.quote()
    );
    Ok(())
}
