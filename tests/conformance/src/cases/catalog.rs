//! What agents see of the model configs: `GET /v1/models` in OpenAI's list shape, hiding
//! disabled models and limited by the instance's `allowed_models`.

use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Ctx, ensure};

/// `GET /v1/models` is OpenAI's list: `object` "list", each model `object` "model", `id`,
/// `created`, `owned_by`; disabled models are hidden.
pub(super) async fn list_shape(ctx: &Ctx) -> CaseResult {
    let model = ctx
        .new_model("video", json!({"capabilities": ["text-to-video"]}))
        .await?;
    let (_, agent) = ctx.new_agent().await?;
    let r = ctx.get("/v1/models", Some(&agent.key)).await?.expect(200)?;
    r.expect_at("/object", &json!("list"))?;
    for m in r.array_at("/data")? {
        ensure!(
            m["object"] == "model"
                && m["id"].is_string()
                && m["owned_by"].is_string()
                && m["created"].is_i64(),
            "GET /v1/models: every model needs object \"model\", id, owned_by and an integer created; got {m}"
        );
    }
    let ours = r
        .array_at("/data")?
        .iter()
        .find(|m| m["id"] == model.as_str())
        .cloned();
    let ours =
        ours.ok_or_else(|| format!("GET /v1/models: {model} is missing from {}", r.quote()))?;
    ensure!(
        ours["owned_by"] == "demo" && ours["modality"] == "video",
        "GET /v1/models: expected {model} owned_by demo with modality video, got {ours}"
    );
    for secret in ["provider_model", "payload_mapping", "pricing"] {
        ensure!(
            ours.get(secret).is_none(),
            "GET /v1/models: agents must not see {secret}: {ours}"
        );
    }
    // One model by id, as OpenAI's `models.retrieve` asks for it.
    let one = ctx
        .get(&format!("/v1/models/{model}"), Some(&agent.key))
        .await?
        .expect(200)?;
    one.expect_at("/id", &json!(model))?;
    one.expect_at("/object", &json!("model"))?;
    ctx.get("/v1/models/no-such-model", Some(&agent.key))
        .await?
        .expect_error(404, Some("model_not_found"))?;
    ctx.patch(
        &format!("/v1/admin/models/{model}"),
        Some(ctx.admin()),
        &json!({"enabled": false}),
    )
    .await?
    .expect(200)?;
    let r = ctx.get("/v1/models", Some(&agent.key)).await?.expect(200)?;
    ensure!(
        !r.list_ids()?.contains(&model),
        "GET /v1/models still lists disabled {model}"
    );
    ctx.get(&format!("/v1/models/{model}"), Some(&agent.key))
        .await?
        .expect_error(404, Some("model_not_found"))?;
    Ok(())
}

async fn visible_models(ctx: &Ctx, key: &str) -> Result<Vec<String>, String> {
    ctx.get("/v1/models", Some(key))
        .await?
        .expect(200)?
        .list_ids()
}

/// An instance's `allowed_models` limits what its agents see; `null` lifts the limit.
pub(super) async fn allowed_models(ctx: &Ctx) -> CaseResult {
    let m1 = ctx.new_model("image", Value::Null).await?;
    let m2 = ctx.new_model("image", Value::Null).await?;
    let (instance, agent) = ctx.new_agent().await?;
    let (_, outsider) = ctx.new_agent().await?;
    let ids = visible_models(ctx, &agent.key).await?;
    ensure!(
        ids.contains(&m1) && ids.contains(&m2),
        "GET /v1/models: expected {m1} and {m2} before any allow-list, got {ids:?}"
    );

    let path = format!("/v1/admin/instances/{instance}");
    ctx.patch(&path, Some(ctx.admin()), &json!({"allowed_models": [m1]}))
        .await?
        .expect(200)?
        .expect_at("/settings/allowed_models", &json!([m1]))?;
    let ids = visible_models(ctx, &agent.key).await?;
    ensure!(
        ids == [m1.clone()],
        "GET /v1/models with allowed_models [{m1}]: expected exactly it, got {ids:?}"
    );
    let ids = visible_models(ctx, &outsider.key).await?;
    ensure!(
        ids.contains(&m1) && ids.contains(&m2),
        "another instance's allow-list changed what {} sees: {ids:?}",
        outsider.id
    );

    ctx.patch(
        &path,
        Some(ctx.admin()),
        &json!({"allowed_models": [ctx.unique("missing")]}),
    )
    .await?
    .expect_error(400, Some("invalid_value"))?
    .expect_at("/error/param", &json!("allowed_models"))?;

    ctx.patch(
        &format!("/v1/admin/models/{m1}"),
        Some(ctx.admin()),
        &json!({"enabled": false}),
    )
    .await?
    .expect(200)?;
    let ids = visible_models(ctx, &agent.key).await?;
    ensure!(
        ids.is_empty(),
        "GET /v1/models: an allowed but disabled model must be hidden, got {ids:?}"
    );

    ctx.patch(&path, Some(ctx.admin()), &json!({"allowed_models": null}))
        .await?
        .expect(200)?
        .expect_at("/settings/allowed_models", &Value::Null)?;
    let ids = visible_models(ctx, &agent.key).await?;
    ensure!(
        ids.contains(&m2) && !ids.contains(&m1),
        "GET /v1/models after lifting the allow-list: expected {m2} but not disabled {m1}, got {ids:?}"
    );
    Ok(())
}
