//! Tenancy: instance-scoped admins see only their instance, read-only keys cannot write, and
//! each instance's registration mode (token, admin_only) is enforced.

use reqwest::Method;
use serde_json::{Value, json};

use crate::CaseResult;
use crate::client::{Body, Ctx, ensure};

fn forbidden(r: crate::client::Resp) -> CaseResult {
    r.expect_error(403, None)?
        .expect_at("/error/type", &Value::from("permission_error"))
}

/// Admins of instances A and B: A's admin sees and changes only A; operator-only actions are 403.
pub(super) async fn admin_isolation(ctx: &Ctx) -> CaseResult {
    let a = ctx.new_instance("iso-a", Value::Null).await?;
    let b = ctx.new_instance("iso-b", Value::Null).await?;
    let a_agent = ctx.register_in(&a).await?;
    let b_agent = ctx.register_in(&b).await?;
    let key_a = ctx.admin_key(Some(&a), false).await?;
    let ka = Some(key_a.as_str());

    let who = ctx.get("/v1/admin/whoami", ka).await?.expect(200)?;
    who.expect_at("/scope", &json!({"kind": "instance", "instance_id": a}))?;

    let list = ctx.get("/v1/admin/agents", ka).await?.expect(200)?;
    let data = list.array_at("/data")?;
    ensure!(
        data.iter().all(|x| x["instance_id"] == a.as_str())
            && data.iter().any(|x| x["id"] == a_agent.id.as_str()),
        "GET /v1/admin/agents as A's admin: expected only A's agents, including {}; got {}",
        a_agent.id,
        list.quote()
    );
    ctx.get(&format!("/v1/admin/agents?instance_id={b}"), ka)
        .await?
        .expect_error(404, None)?;

    let b_path = format!("/v1/admin/agents/{}", b_agent.id);
    ctx.get(&b_path, ka).await?.expect_error(404, None)?;
    ctx.patch(&b_path, ka, &json!({"name": "Hijacked"}))
        .await?
        .expect_error(404, None)?;
    ctx.send(Method::POST, &format!("{b_path}/suspend"), ka, Body::Empty)
        .await?
        .expect_error(404, None)?;
    ctx.delete(&b_path, ka).await?.expect_error(404, None)?;
    let b_me = ctx
        .get("/v1/agents/me", Some(&b_agent.key))
        .await?
        .expect(200)?;
    ensure!(
        b_me.body["name"] != "Hijacked",
        "A's admin renamed B's agent: {}",
        b_me.quote()
    );

    let a_path = format!("/v1/admin/agents/{}", a_agent.id);
    ctx.get(&a_path, ka).await?.expect(200)?;
    ctx.patch(&a_path, ka, &json!({"name": "Renamed"}))
        .await?
        .expect(200)?
        .expect_at("/name", &Value::from("Renamed"))?;

    let tier = json!({"id": ctx.unique("tier"), "name": "Sneaky"});
    forbidden(ctx.post("/v1/admin/tiers", ka, &tier).await?)?;
    forbidden(
        ctx.post(
            "/v1/admin/models",
            ka,
            &ctx.model_body("image", Value::Null),
        )
        .await?,
    )?;
    let inst = json!({"id": ctx.unique("inst"), "name": "Sneaky"});
    forbidden(ctx.post("/v1/admin/instances", ka, &inst).await?)?;
    forbidden(ctx.delete(&format!("/v1/admin/instances/{a}"), ka).await?)?;
    forbidden(
        ctx.post("/v1/admin/keys", ka, &json!({"name": "operator please"}))
            .await?,
    )?;
    ctx.get("/v1/admin/tiers", ka).await?.expect(200)?;

    let instances = ctx.get("/v1/admin/instances", ka).await?.expect(200)?;
    ensure!(
        instances.list_ids()? == [a.clone()],
        "GET /v1/admin/instances as A's admin: expected only {a}, got {}",
        instances.quote()
    );
    ctx.get(&format!("/v1/admin/instances/{a}"), ka)
        .await?
        .expect(200)?;
    ctx.get(&format!("/v1/admin/instances/{b}"), ka)
        .await?
        .expect_error(404, None)?;
    ctx.patch(
        &format!("/v1/admin/instances/{b}"),
        ka,
        &json!({"name": "Mine now"}),
    )
    .await?
    .expect_error(404, None)?;
    ctx.post(
        "/v1/admin/keys",
        ka,
        &json!({"name": "into b", "instance_id": b}),
    )
    .await?
    .expect_error(404, None)?;
    ctx.post(
        "/v1/admin/keys",
        ka,
        &json!({"name": "own", "instance_id": a}),
    )
    .await?
    .expect(201)?;
    let keys = ctx.get("/v1/admin/keys", ka).await?.expect(200)?;
    let data = keys.array_at("/data")?;
    ensure!(
        !data.is_empty()
            && data.iter().all(|k| k["scope"]["instance_id"] == a.as_str()
                && k.get("hash").is_none()
                && k.get("secret").is_none()),
        "GET /v1/admin/keys as A's admin: expected only A's keys, without hash or secret; got {}",
        keys.quote()
    );
    ensure!(
        !keys.text.contains(&key_a),
        "GET /v1/admin/keys shows an admin secret"
    );

    let created = ctx
        .post("/v1/admin/agents", ka, &json!({"name": "Made by A"}))
        .await?
        .expect(201)?;
    created.expect_at("/instance_id", &Value::from(a.as_str()))?;
    ctx.post(
        "/v1/admin/agents",
        ka,
        &json!({"name": "Into B", "instance": b}),
    )
    .await?
    .expect_error(404, None)?;
    Ok(())
}

/// Read-only admin keys (instance-scoped and operator) may read but every write is 403.
pub(super) async fn read_only_admin(ctx: &Ctx) -> CaseResult {
    let (instance, agent) = ctx.new_agent().await?;
    let ro = ctx.admin_key(Some(&instance), true).await?;
    let ro = Some(ro.as_str());
    ctx.get("/v1/admin/whoami", ro)
        .await?
        .expect(200)?
        .expect_at("/read_only", &Value::Bool(true))?;
    let list = ctx.get("/v1/admin/agents", ro).await?.expect(200)?;
    ensure!(
        list.list_ids()?.contains(&agent.id),
        "GET /v1/admin/agents with a read-only key: expected {}, got {}",
        agent.id,
        list.quote()
    );
    let path = format!("/v1/admin/agents/{}", agent.id);
    ctx.get(&path, ro).await?.expect(200)?;
    forbidden(ctx.patch(&path, ro, &json!({"name": "Changed"})).await?)?;
    forbidden(
        ctx.send(Method::POST, &format!("{path}/suspend"), ro, Body::Empty)
            .await?,
    )?;
    forbidden(ctx.delete(&path, ro).await?)?;
    forbidden(
        ctx.post("/v1/admin/agents", ro, &json!({"name": "New"}))
            .await?,
    )?;
    forbidden(
        ctx.patch(
            &format!("/v1/admin/instances/{instance}"),
            ro,
            &json!({"name": "Renamed"}),
        )
        .await?,
    )?;
    let key = json!({"name": "more", "instance_id": instance});
    forbidden(ctx.post("/v1/admin/keys", ro, &key).await?)?;
    let register = json!({"name": "Via read-only", "instance": instance});
    forbidden(ctx.post("/v1/agents/register", ro, &register).await?)?;

    let ro_op = ctx.admin_key(None, true).await?;
    let ro_op = Some(ro_op.as_str());
    ctx.get("/v1/admin/instances", ro_op).await?.expect(200)?;
    ctx.get("/v1/admin/models", ro_op).await?.expect(200)?;
    let tier = json!({"id": ctx.unique("tier"), "name": "Nope"});
    forbidden(ctx.post("/v1/admin/tiers", ro_op, &tier).await?)?;
    forbidden(
        ctx.post(
            "/v1/admin/models",
            ro_op,
            &ctx.model_body("text", Value::Null),
        )
        .await?,
    )?;
    forbidden(ctx.patch(&path, ro_op, &json!({"tier": "free"})).await?)?;

    let me = ctx
        .get("/v1/agents/me", Some(&agent.key))
        .await?
        .expect(200)?;
    me.expect_at("/status", &Value::from("active"))?;
    ensure!(
        me.body["name"] != "Changed",
        "a read-only key renamed the agent: {}",
        me.quote()
    );
    Ok(())
}

/// Mode `token`: missing or wrong token is 403 with its own code; the right one is 201.
pub(super) async fn registration_token(ctx: &Ctx) -> CaseResult {
    let token = format!("{}-0123456789abcdef", ctx.unique("rt"));
    let settings = json!({"registration": "token", "registration_token": token});
    let instance = ctx.new_instance("tok", settings).await?;
    let got = ctx
        .get(
            &format!("/v1/admin/instances/{instance}"),
            Some(ctx.admin()),
        )
        .await?
        .expect(200)?;
    got.expect_at("/settings/registration", &Value::from("token"))?;
    got.expect_at("/settings/registration_token_set", &Value::Bool(true))?;
    ensure!(
        !got.text.contains(&token),
        "GET /v1/admin/instances/{{id}} shows the registration token"
    );

    let register = |extra: Value| {
        let mut body = json!({"name": ctx.unique("agent"), "instance": instance});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        body
    };
    let r = ctx
        .post("/v1/agents/register", None, &register(Value::Null))
        .await?
        .expect_error(403, Some("registration_token_required"))?;
    r.expect_at("/error/param", &Value::from("registration_token"))?;
    r.expect_at("/error/type", &Value::from("permission_error"))?;
    let wrong = json!({"registration_token": format!("{token}-wrong")});
    ctx.post("/v1/agents/register", None, &register(wrong))
        .await?
        .expect_error(403, Some("registration_token_invalid"))?;
    let right = json!({"registration_token": token});
    ctx.post("/v1/agents/register", None, &register(right.clone()))
        .await?
        .expect(201)?
        .expect_at("/instance_id", &Value::from(instance.as_str()))?;

    // A new token replaces the old one.
    let new_token = format!("{token}-rotated");
    let path = format!("/v1/admin/instances/{instance}");
    ctx.patch(
        &path,
        Some(ctx.admin()),
        &json!({"registration_token": new_token}),
    )
    .await?
    .expect(200)?;
    ctx.post("/v1/agents/register", None, &register(right))
        .await?
        .expect_error(403, Some("registration_token_invalid"))?;
    ctx.post(
        "/v1/agents/register",
        None,
        &register(json!({"registration_token": new_token})),
    )
    .await?
    .expect(201)?;

    // Token mode needs a token, at least 16 characters long.
    let tokenless = json!({"id": ctx.unique("tok"), "name": "No token", "registration": "token"});
    ctx.post("/v1/admin/instances", Some(ctx.admin()), &tokenless)
        .await?
        .expect_error(400, Some("invalid_value"))?
        .expect_at("/error/param", &Value::from("registration_token"))?;
    let short = json!({"id": ctx.unique("tok"), "name": "Short", "registration": "token", "registration_token": "short"});
    ctx.post("/v1/admin/instances", Some(ctx.admin()), &short)
        .await?
        .expect_error(400, Some("invalid_value"))?;

    // Opening the instance drops the requirement.
    ctx.patch(&path, Some(ctx.admin()), &json!({"registration": "open"}))
        .await?
        .expect(200)?;
    ctx.post("/v1/agents/register", None, &register(Value::Null))
        .await?
        .expect(201)?;
    Ok(())
}

/// Mode `admin_only`: anonymous registration is 403 `registration_closed`; the instance's admin
/// (and the operator) may register agents; another instance's admin may not.
pub(super) async fn registration_admin_only(ctx: &Ctx) -> CaseResult {
    let closed = ctx
        .new_instance("closed", json!({"registration": "admin_only"}))
        .await?;
    let body = json!({"name": "Walk-in", "instance": closed});
    ctx.post("/v1/agents/register", None, &body)
        .await?
        .expect_error(403, Some("registration_closed"))?;
    let with_token = json!({"name": "Walk-in", "instance": closed, "registration_token": "0123456789abcdef0123"});
    ctx.post("/v1/agents/register", None, &with_token)
        .await?
        .expect_error(403, Some("registration_closed"))?;

    let key_c = ctx.admin_key(Some(&closed), false).await?;
    let r = ctx
        .post("/v1/agents/register", Some(&key_c), &body)
        .await?
        .expect(201)?;
    r.expect_at("/instance_id", &Value::from(closed.as_str()))?;
    let key = r.str_at("/api_key")?.to_owned();
    ctx.get("/v1/agents/me", Some(&key)).await?.expect(200)?;
    ctx.post(
        "/v1/admin/agents",
        Some(&key_c),
        &json!({"name": "Admin-made"}),
    )
    .await?
    .expect(201)?
    .expect_at("/instance_id", &Value::from(closed.as_str()))?;
    ctx.post("/v1/agents/register", Some(ctx.admin()), &body)
        .await?
        .expect(201)?;

    let other = ctx.new_instance("other", Value::Null).await?;
    let key_other = ctx.admin_key(Some(&other), false).await?;
    ctx.post("/v1/agents/register", Some(&key_other), &body)
        .await?
        .expect_error(404, None)?;

    // The instance's own admin may open it.
    ctx.patch(
        &format!("/v1/admin/instances/{closed}"),
        Some(&key_c),
        &json!({"registration": "open"}),
    )
    .await?
    .expect(200)?
    .expect_at("/settings/registration", &Value::from("open"))?;
    ctx.post("/v1/agents/register", None, &body)
        .await?
        .expect(201)?;
    Ok(())
}

/// Tenants' own provider keys: an instance admin sets one, sees only a hint of it, another
/// tenant cannot see or set it, a read-only key cannot write. A server without
/// `MOLTS_SECRET_KEY` refuses clearly instead of storing keys unsealed.
pub(super) async fn provider_keys(ctx: &Ctx) -> CaseResult {
    let a = ctx.new_instance("byok-a", Value::Null).await?;
    let b = ctx.new_instance("byok-b", Value::Null).await?;
    let a_admin = ctx.admin_key(Some(&a), false).await?;
    let b_admin = ctx.admin_key(Some(&b), false).await?;
    let a_reader = ctx.admin_key(Some(&a), true).await?;
    let secret = format!("sk-conformance-{}-7731", ctx.unique("k"));
    let path = format!("/v1/admin/instances/{a}/provider-keys/openai");
    let put = ctx
        .send(
            Method::PUT,
            &path,
            Some(&a_admin),
            Body::Json(&json!({"api_key": secret})),
        )
        .await?;
    if put.status == 400 && put.body["error"]["code"] == "secret_key_not_configured" {
        // Nothing more to check on a server that cannot seal keys.
        return put.check_error_shape();
    }
    let put = put.expect(200)?;
    put.expect_at("/provider", &json!("openai"))?;
    put.expect_at("/key_hint", &json!("…7731"))?;
    ensure!(
        !put.text.contains(&secret),
        "the key came back: {}",
        put.quote()
    );

    let list = ctx
        .get(
            &format!("/v1/admin/instances/{a}/provider-keys"),
            Some(&a_admin),
        )
        .await?
        .expect(200)?;
    ensure!(
        list.array_at("/data")?.len() == 1 && !list.text.contains(&secret),
        "list: {}",
        list.quote()
    );
    // The operator sees it too, never the key.
    let op = ctx
        .get(
            &format!("/v1/admin/instances/{a}/provider-keys"),
            Some(ctx.admin()),
        )
        .await?
        .expect(200)?;
    ensure!(!op.text.contains(&secret), "the operator saw the key");

    ctx.get(
        &format!("/v1/admin/instances/{a}/provider-keys"),
        Some(&b_admin),
    )
    .await?
    .expect_error(404, None)?;
    ctx.send(
        Method::PUT,
        &path,
        Some(&b_admin),
        Body::Json(&json!({"api_key": "sk-stranger-000000"})),
    )
    .await?
    .expect_error(404, None)?;
    forbidden(
        ctx.send(
            Method::PUT,
            &path,
            Some(&a_reader),
            Body::Json(&json!({"api_key": "sk-reader-000000"})),
        )
        .await?,
    )?;
    ctx.send(
        Method::PUT,
        &format!("/v1/admin/instances/{a}/provider-keys/nosuch"),
        Some(&a_admin),
        Body::Json(&json!({"api_key": "sk-00000000"})),
    )
    .await?
    .expect_error(404, None)?;
    ctx.send(
        Method::PUT,
        &format!("/v1/admin/instances/{a}/provider-keys/demo"),
        Some(&a_admin),
        Body::Json(&json!({"api_key": "sk-00000000"})),
    )
    .await?
    .expect_error(400, None)?;
    ctx.send(
        Method::PUT,
        &path,
        Some(&a_admin),
        Body::Json(&json!({"api_key": "short"})),
    )
    .await?
    .expect_error(400, None)?;
    // A tenant's base URL is fetched from inside the operator's network: never its metadata.
    ctx.send(
        Method::PUT,
        &path,
        Some(&a_admin),
        Body::Json(&json!({"api_key": "sk-00000000", "base_url": "http://169.254.169.254/v1"})),
    )
    .await?
    .expect_error(400, Some("base_url_refused"))?;

    ctx.delete(&path, Some(&a_admin)).await?.expect(204)?;
    ctx.delete(&path, Some(&a_admin))
        .await?
        .expect_error(404, None)?;
    Ok(())
}

/// Projects group agents inside an instance: an instance admin makes one in its own instance,
/// names are unique there, agents join by `project_id` and are listed by it, other tenants see
/// nothing, and deleting a project leaves its agents without one.
pub(super) async fn projects(ctx: &Ctx) -> CaseResult {
    let a = ctx.new_instance("prj-a", Value::Null).await?;
    let b = ctx.new_instance("prj-b", Value::Null).await?;
    let a_admin = ctx.admin_key(Some(&a), false).await?;
    let b_admin = ctx.admin_key(Some(&b), false).await?;
    let name = ctx.unique("films");
    let created = ctx
        .post(
            "/v1/admin/projects",
            Some(&a_admin),
            &json!({"name": name, "description": "all the films"}),
        )
        .await?
        .expect(201)?;
    created.expect_at("/instance_id", &json!(a))?;
    let project = created.str_at("/id")?.to_owned();
    ctx.post("/v1/admin/projects", Some(&a_admin), &json!({"name": name}))
        .await?
        .expect_error(409, None)?;
    // Another tenant can neither see nor use it.
    ctx.get(
        &format!("/v1/admin/projects?instance_id={a}"),
        Some(&b_admin),
    )
    .await?
    .expect_error(404, None)?;
    ctx.post(
        "/v1/admin/projects",
        Some(&b_admin),
        &json!({"name": "x", "instance_id": a}),
    )
    .await?
    .expect_error(404, None)?;
    ctx.post(
        "/v1/agents/register",
        None,
        &json!({"name": ctx.unique("agent"), "instance": b, "project_id": project}),
    )
    .await?
    .expect_error(404, None)?;

    let joined = ctx
        .post(
            "/v1/agents/register",
            None,
            &json!({"name": ctx.unique("agent"), "instance": a, "project_id": project}),
        )
        .await?
        .expect(201)?;
    joined.expect_at("/project_id", &json!(project))?;
    let agent = joined.str_at("/agent_id")?.to_owned();
    let listed = ctx
        .get(
            &format!("/v1/admin/agents?project_id={project}"),
            Some(&a_admin),
        )
        .await?
        .expect(200)?;
    ensure!(
        listed.list_ids()? == vec![agent.clone()],
        "agents of the project: {}",
        listed.quote()
    );
    let projects = ctx
        .get("/v1/admin/projects", Some(&a_admin))
        .await?
        .expect(200)?;
    ensure!(
        projects.list_ids()? == vec![project.clone()],
        "projects: {}",
        projects.quote()
    );

    ctx.delete(&format!("/v1/admin/projects/{project}"), Some(&b_admin))
        .await?
        .expect_error(404, None)?;
    ctx.delete(&format!("/v1/admin/projects/{project}"), Some(&a_admin))
        .await?
        .expect(204)?;
    let after = ctx
        .get(&format!("/v1/admin/agents/{agent}"), Some(&a_admin))
        .await?
        .expect(200)?;
    after.expect_at("/project_id", &Value::Null)
}
