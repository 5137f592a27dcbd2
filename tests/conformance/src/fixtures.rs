//! Things cases set up through the public API, each uniquely named: instances, agents, admin
//! keys, tiers and model configs. Everything is made with the operator token of the target.

use serde_json::{Value, json};

use crate::client::{Ctx, Resp, ensure};

/// A registered agent and the key it got.
#[derive(Debug, Clone)]
pub(crate) struct Agent {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) key_id: String,
}

impl Agent {
    /// Reads a `201` registration answer.
    pub(crate) fn from_registered(r: &Resp) -> Result<Self, String> {
        Ok(Self {
            id: r.str_at("/agent_id")?.to_owned(),
            key: r.str_at("/api_key")?.to_owned(),
            key_id: r.str_at("/key_id")?.to_owned(),
        })
    }
}

/// `base` with the fields of `extra` (an object, or `null` for none) set over it.
pub(crate) fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

impl Ctx {
    /// A unique address on a reserved domain.
    pub(crate) fn email(&self) -> String {
        format!("{}@conformance.example.com", self.unique("agent"))
    }

    /// Creates an instance as the operator; `extra` adds settings. Returns its id.
    pub(crate) async fn new_instance(&self, stem: &str, extra: Value) -> Result<String, String> {
        let id = self.unique(stem);
        let body = merged(
            json!({"id": id, "name": format!("Conformance {id}")}),
            extra,
        );
        let r = self
            .post("/v1/admin/instances", Some(self.admin()), &body)
            .await?
            .expect(201)?;
        r.expect_at("/id", &Value::from(id.as_str()))?;
        Ok(id)
    }

    /// Registers an agent into `instance` without credentials (the instance must be open).
    pub(crate) async fn register_in(&self, instance: &str) -> Result<Agent, String> {
        let body = json!({
            "name": self.unique("agent"),
            "email": self.email(),
            "instance": instance,
        });
        let r = self
            .post("/v1/agents/register", None, &body)
            .await?
            .expect(201)?;
        Agent::from_registered(&r)
    }

    /// A fresh open instance with one agent in it.
    pub(crate) async fn new_agent(&self) -> Result<(String, Agent), String> {
        let instance = self.new_instance("inst", Value::Null).await?;
        let agent = self.register_in(&instance).await?;
        Ok((instance, agent))
    }

    /// Issues an admin key as the operator: scoped to `instance` when given. Returns the secret.
    pub(crate) async fn admin_key(
        &self,
        instance: Option<&str>,
        read_only: bool,
    ) -> Result<String, String> {
        let mut body = json!({"name": self.unique("admin-key"), "read_only": read_only});
        if let Some(i) = instance {
            body["instance_id"] = Value::from(i);
        }
        let r = self
            .post("/v1/admin/keys", Some(self.admin()), &body)
            .await?
            .expect(201)?;
        let secret = r.str_at("/secret")?.to_owned();
        ensure!(
            secret.starts_with("mla_"),
            "POST /v1/admin/keys: expected a secret starting with mla_, got {}",
            r.quote()
        );
        Ok(secret)
    }

    /// Creates a tier as the operator; `extra` sets limits or a rate. Returns its id.
    pub(crate) async fn new_tier(&self, extra: Value) -> Result<String, String> {
        let id = self.unique("tier");
        let body = merged(json!({"id": id, "name": format!("Tier {id}")}), extra);
        self.post("/v1/admin/tiers", Some(self.admin()), &body)
            .await?
            .expect(201)?;
        Ok(id)
    }

    /// Moves an agent to a tier as the operator.
    pub(crate) async fn set_tier(&self, agent_id: &str, tier: &str) -> Result<(), String> {
        let r = self
            .patch(
                &format!("/v1/admin/agents/{agent_id}"),
                Some(self.admin()),
                &json!({"tier": tier}),
            )
            .await?
            .expect(200)?;
        r.expect_at("/tier_id", &Value::from(tier))
    }

    /// A valid model config body of `modality` with a fresh id; `extra` overrides fields.
    pub(crate) fn model_body(&self, modality: &str, extra: Value) -> Value {
        let id = self.unique("model");
        merged(
            json!({
                "id": id,
                "provider": "demo",
                "modality": modality,
                "provider_model": format!("conformance-{modality}"),
                "display_name": format!("Conformance {id}"),
            }),
            extra,
        )
    }

    /// Creates a model config as the operator. Returns its id.
    pub(crate) async fn new_model(&self, modality: &str, extra: Value) -> Result<String, String> {
        let body = self.model_body(modality, extra);
        let r = self
            .post("/v1/admin/models", Some(self.admin()), &body)
            .await?
            .expect(201)?;
        Ok(r.str_at("/id")?.to_owned())
    }
}
