//! Model configs as the operator manages them: CRUD, the seed's `?type=`/`?status=` filters, and
//! save-time validation.

use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Ctx, ensure};

/// Create, get, replace, patch and delete a model config; duplicates are 409, and so is deleting
/// one another config falls back to or an instance's allow-list names.
pub(super) async fn model_crud(ctx: &Ctx) -> CaseResult {
    let admin = Some(ctx.admin());
    let extra = json!({"status": "beta", "description": "conformance", "capabilities": ["text-to-image"], "pricing": {"usd_per_image": 0.01}});
    let body = ctx.model_body("image", extra);
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    let r = ctx
        .post("/v1/admin/models", admin, &body)
        .await?
        .expect(201)?;
    for (field, value) in [
        ("id", json!(id)),
        ("provider", json!("demo")),
        ("modality", json!("image")),
        ("status", json!("beta")),
        ("enabled", json!(true)),
        ("capabilities", json!(["text-to-image"])),
    ] {
        r.expect_at(&format!("/{field}"), &value)?;
    }
    let path = format!("/v1/admin/models/{id}");
    ctx.get(&path, admin)
        .await?
        .expect(200)?
        .expect_at("/pricing", &json!({"usd_per_image": 0.01}))?;
    ctx.post("/v1/admin/models", admin, &body)
        .await?
        .expect_error(409, None)?;

    let mut replacement = body.clone();
    replacement["display_name"] = json!("Replaced");
    ctx.put(&path, admin, &replacement).await?.expect(200)?;
    ctx.get(&path, admin)
        .await?
        .expect(200)?
        .expect_at("/display_name", &json!("Replaced"))?;
    let mut other = body.clone();
    other["id"] = json!(ctx.unique("model"));
    ctx.put(&path, admin, &other)
        .await?
        .expect_error(400, None)?
        .expect_at("/error/param", &json!("id"))?;

    let r = ctx
        .patch(
            &path,
            admin,
            &json!({"display_name": "Patched", "status": "deprecated"}),
        )
        .await?
        .expect(200)?;
    r.expect_at("/display_name", &json!("Patched"))?;
    r.expect_at("/status", &json!("deprecated"))?;
    r.expect_at("/modality", &json!("image"))?;
    ctx.patch(&path, admin, &json!({"enabled": false}))
        .await?
        .expect(200)?
        .expect_at("/enabled", &json!(false))?;

    // A config named as another's fallback cannot be deleted until the other lets go.
    let user = ctx.new_model("image", json!({"fallbacks": [id]})).await?;
    ctx.delete(&path, admin).await?.expect_error(409, None)?;
    ctx.delete(&format!("/v1/admin/models/{user}"), admin)
        .await?
        .expect(204)?;
    // So is one an instance's allow-list names, until the instance lets go.
    let instance = ctx.unique("inst");
    let instance_path = format!("/v1/admin/instances/{instance}");
    let new_instance = json!({"id": instance, "name": "Allow-list", "allowed_models": [id]});
    ctx.post("/v1/admin/instances", admin, &new_instance)
        .await?
        .expect(201)?;
    ctx.delete(&path, admin).await?.expect_error(409, None)?;
    ctx.patch(&instance_path, admin, &json!({"allowed_models": null}))
        .await?
        .expect(200)?;
    ctx.delete(&path, admin).await?.expect(204)?;
    ctx.get(&path, admin).await?.expect_error(404, None)?;
    ctx.delete(&path, admin).await?.expect_error(404, None)?;
    ctx.patch(&path, admin, &json!({"enabled": true}))
        .await?
        .expect_error(404, None)?;
    Ok(())
}

fn ids_of(r: &crate::client::Resp) -> Result<Vec<String>, String> {
    r.list_ids()
}

async fn check_filter(
    ctx: &Ctx,
    query: &str,
    field: &str,
    value: &str,
    has: &[&String],
    lacks: &[&String],
) -> CaseResult {
    let r = ctx
        .get(&format!("/v1/admin/models?{query}"), Some(ctx.admin()))
        .await?
        .expect(200)?;
    let data = r.array_at("/data")?;
    ensure!(
        data.iter().all(|m| m[field] == value),
        "GET /v1/admin/models?{query}: every model must have {field} {value:?}; got {}",
        r.quote()
    );
    let ids = ids_of(&r)?;
    for id in has {
        ensure!(
            ids.contains(id),
            "GET /v1/admin/models?{query}: expected {id} among {ids:?}"
        );
    }
    for id in lacks {
        ensure!(
            !ids.contains(id),
            "GET /v1/admin/models?{query}: {id} must not be listed"
        );
    }
    Ok(())
}

/// `?type=`, `?status=`, `?enabled=` and `?provider=` filter the operator's list; bad values are 400.
pub(super) async fn model_filters(ctx: &Ctx) -> CaseResult {
    let admin = Some(ctx.admin());
    let image = ctx.new_model("image", json!({"status": "beta"})).await?;
    let text = ctx.new_model("text", Value::Null).await?;
    let speech = ctx.new_model("speech", Value::Null).await?;

    check_filter(
        ctx,
        "type=image",
        "modality",
        "image",
        &[&image],
        &[&text, &speech],
    )
    .await?;
    check_filter(
        ctx,
        "type=text",
        "modality",
        "text",
        &[&text],
        &[&image, &speech],
    )
    .await?;
    check_filter(
        ctx,
        "type=audio",
        "modality",
        "speech",
        &[&speech],
        &[&image],
    )
    .await?;
    check_filter(ctx, "status=beta", "status", "beta", &[&image], &[&text]).await?;
    check_filter(
        ctx,
        "type=image&status=active",
        "status",
        "active",
        &[],
        &[&image],
    )
    .await?;
    check_filter(
        ctx,
        "type=text&status=active",
        "modality",
        "text",
        &[&text],
        &[],
    )
    .await?;
    check_filter(
        ctx,
        "provider=demo",
        "provider",
        "demo",
        &[&image, &text, &speech],
        &[],
    )
    .await?;

    ctx.patch(
        &format!("/v1/admin/models/{image}"),
        admin,
        &json!({"enabled": false}),
    )
    .await?
    .expect(200)?;
    let r = ctx
        .get("/v1/admin/models?enabled=false", admin)
        .await?
        .expect(200)?;
    ensure!(
        r.array_at("/data")?.iter().all(|m| m["enabled"] == false) && ids_of(&r)?.contains(&image),
        "GET /v1/admin/models?enabled=false: expected only disabled models, including {image}; got {}",
        r.quote()
    );
    let r = ctx
        .get("/v1/admin/models?enabled=true", admin)
        .await?
        .expect(200)?;
    ensure!(
        r.array_at("/data")?.iter().all(|m| m["enabled"] == true) && !ids_of(&r)?.contains(&image),
        "GET /v1/admin/models?enabled=true: expected only enabled models; got {}",
        r.quote()
    );
    let all = ctx.get("/v1/admin/models", admin).await?.expect(200)?;
    ensure!(
        ids_of(&all)?.contains(&image),
        "GET /v1/admin/models without filters must list disabled {image}"
    );

    for (query, param) in [
        ("type=hologram", "type"),
        ("status=retired", "status"),
        ("provider=acme", "provider"),
    ] {
        ctx.get(&format!("/v1/admin/models?{query}"), admin)
            .await?
            .expect_error(400, Some("invalid_value"))?
            .expect_at("/error/param", &json!(param))?;
    }
    Ok(())
}

async fn expect_bad_model(ctx: &Ctx, extra: Value, param: &str) -> CaseResult {
    let admin = Some(ctx.admin());
    let body = ctx.model_body("image", extra);
    let r = ctx
        .post("/v1/admin/models", admin, &body)
        .await?
        .expect_error(400, None)?;
    r.expect_at("/error/param", &json!(param))?;
    let id = body["id"].as_str().unwrap_or_default();
    ctx.get(&format!("/v1/admin/models/{id}"), admin)
        .await?
        .expect_error(404, None)?;
    Ok(())
}

/// Save-time validation: template endpoints must be absolute URLs, enums known, ids slugs.
pub(super) async fn model_validation(ctx: &Ctx) -> CaseResult {
    let admin = Some(ctx.admin());
    expect_bad_model(
        ctx,
        json!({"provider": "template", "payload_mapping": {"endpoint": "/v1/generate"}}),
        "payload_mapping.endpoint",
    )
    .await?;
    expect_bad_model(
        ctx,
        json!({"provider": "template", "payload_mapping": {"endpoint": 42}}),
        "payload_mapping.endpoint",
    )
    .await?;
    expect_bad_model(ctx, json!({"provider": "template"}), "payload_mapping").await?;
    expect_bad_model(
        ctx,
        json!({"payload_mapping": ["not", "an", "object"]}),
        "payload_mapping",
    )
    .await?;
    expect_bad_model(ctx, json!({"provider": "acme"}), "provider").await?;
    expect_bad_model(ctx, json!({"modality": "hologram"}), "modality").await?;
    expect_bad_model(ctx, json!({"pricing": 3}), "pricing").await?;
    expect_bad_model(ctx, json!({"provider_model": "  "}), "provider_model").await?;
    expect_bad_model(
        ctx,
        json!({"fallbacks": [ctx.unique("missing")]}),
        "fallbacks",
    )
    .await?;
    let text = ctx.new_model("text", Value::Null).await?;
    expect_bad_model(ctx, json!({"fallbacks": [text]}), "fallbacks").await?;

    let colon = json!({"id": "demo:thing", "provider": "demo", "modality": "image", "provider_model": "x", "display_name": "Colon"});
    ctx.post("/v1/admin/models", admin, &colon)
        .await?
        .expect_error(400, Some("invalid_value"))?
        .expect_at("/error/param", &json!("id"))?;
    let extra_field = ctx.model_body("image", json!({"price": 1}));
    ctx.post("/v1/admin/models", admin, &extra_field)
        .await?
        .expect_error(400, Some("unknown_field"))?
        .expect_at("/error/param", &json!("price"))?;

    // A template with an absolute endpoint is fine; patching in a relative one is refused.
    let endpoint = "https://render.example.com/v1/generate";
    let template = ctx
        .new_model(
            "image",
            json!({"provider": "template", "payload_mapping": {"endpoint": endpoint, "response_mapping": {"image_url": "$.data[0].url"}}}),
        )
        .await?;
    let path = format!("/v1/admin/models/{template}");
    ctx.patch(
        &path,
        admin,
        &json!({"payload_mapping": {"endpoint": "relative/path"}}),
    )
    .await?
    .expect_error(400, None)?
    .expect_at("/error/param", &json!("payload_mapping.endpoint"))?;
    ctx.get(&path, admin)
        .await?
        .expect(200)?
        .expect_at("/payload_mapping/endpoint", &json!(endpoint))?;
    Ok(())
}
