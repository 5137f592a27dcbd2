//! Agent registration: open, by registration token, or by an admin, per instance setting.
//! Registrations without an admin key are rate limited per client address, since each one is
//! a new agent with a fresh allowance (and may start a persona).

use crate::ErrorCode;
use std::net::IpAddr;
use std::time::Duration;

use crate::domain::{Agent, AgentStatus, NewAgent, RegistrationMode};
use crate::error::{Error, ErrorKind, Result};
use crate::net::is_public_address;
use crate::{secret, validate};

use super::keys::IssuedKey;
use super::{AdminPrincipal, Gateway};

/// A new agent and its first key, shown this once.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The agent.
    pub agent: Agent,
    /// Its first key, with the clear secret.
    pub key: IssuedKey,
}

/// Registrations one client address may make per rate window (a minute) without an admin key.
pub const REGISTRATIONS_PER_WINDOW: u32 = 5;

/// The rate key of a client address. An IPv6 client usually holds a whole /64, so its
/// addresses count together; an IPv4-mapped IPv6 address counts as the IPv4 one.
fn registration_rate_key(client: IpAddr) -> String {
    match client.to_canonical() {
        IpAddr::V4(v4) => format!("register:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("register:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

impl Gateway {
    /// Registers an agent for a caller at `client` (the address the HTTP layer saw, `None`
    /// where the runtime cannot tell): without an admin key, at most
    /// [`REGISTRATIONS_PER_WINDOW`] a minute per public address, else `RateLimited` with
    /// `Retry-After`.
    pub async fn register_agent_from(
        &self,
        request: NewAgent,
        admin: Option<&AdminPrincipal>,
        client: Option<IpAddr>,
    ) -> Result<Registered> {
        // Only a public address is one client: a loopback or private peer is the host itself
        // or a proxy or load balancer in front of molts, whose clients it cannot tell apart
        // (limiting it would let one caller stop every registration behind it).
        if admin.is_none()
            && let Some(client) = client.filter(|c| is_public_address(*c))
        {
            self.count_registration(client).await?;
        }
        self.register_agent(request, admin).await
    }

    async fn count_registration(&self, client: IpAddr) -> Result<()> {
        let decision = self
            .inner
            .ports
            .rate_limiter
            .hit(
                &registration_rate_key(client),
                REGISTRATIONS_PER_WINDOW,
                self.inner.config.rate_window,
                self.now(),
            )
            .await?;
        if decision.allowed {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::RateLimited,
            format!(
                "at most {REGISTRATIONS_PER_WINDOW} registrations a minute from one address; \
                 retry later"
            ),
        )
        .with_code(ErrorCode::RateLimitExceeded)
        .with_retry_after(decision.reset_after.max(Duration::from_secs(1))))
    }

    /// Registers an agent, with no per-address limit (admins, embedding, tests); the HTTP
    /// layer registers through [`Gateway::register_agent_from`]. `admin` is the caller when an
    /// admin key was presented; admins may register into their own instance whatever its mode.
    pub async fn register_agent(
        &self,
        request: NewAgent,
        admin: Option<&AdminPrincipal>,
    ) -> Result<Registered> {
        let name = validate::name("name", &request.name, 100)?;
        let email = request.email.as_deref().map(validate::email).transpose()?;
        validate::soul_md(&request.soul_md)?;
        let voice = request
            .voice_sample_url
            .as_deref()
            .map(|u| validate::http_url("voice_sample_url", u))
            .transpose()?;
        let instance_id = request
            .instance
            .clone()
            .unwrap_or_else(|| self.inner.config.default_instance.clone());
        let instance = self
            .inner
            .ports
            .stores
            .instances
            .get_instance(&instance_id)
            .await?
            .ok_or_else(|| Error::not_found("instance", &instance_id).with_param("instance"))?;

        match admin {
            Some(admin) => admin.require_instance_write(&instance.id)?,
            None => match instance.settings.registration {
                RegistrationMode::Open => {}
                RegistrationMode::Token => {
                    let presented = request.registration_token.as_deref().ok_or_else(|| {
                        Error::forbidden("this instance needs a registration_token")
                            .with_code(ErrorCode::RegistrationTokenRequired)
                            .with_param("registration_token")
                    })?;
                    let ok = instance
                        .settings
                        .registration_token_hash
                        .as_deref()
                        .is_some_and(|h| secret::verify(presented, h));
                    if !ok {
                        return Err(Error::forbidden("registration_token is not valid")
                            .with_code(ErrorCode::RegistrationTokenInvalid)
                            .with_param("registration_token"));
                    }
                }
                RegistrationMode::AdminOnly => {
                    return Err(Error::forbidden(
                        "agents on this instance are created by its admins",
                    )
                    .with_code(ErrorCode::RegistrationClosed));
                }
            },
        }

        if let Some(project_id) = &request.project_id {
            let project = self
                .inner
                .ports
                .stores
                .projects
                .get_project(project_id)
                .await?;
            if project.is_none_or(|p| p.instance_id != instance.id) {
                return Err(Error::not_found("project", project_id).with_param("project_id"));
            }
        }

        let now = self.now();
        let agent = Agent {
            id: self.inner.ports.ids.id("agt"),
            instance_id: instance.id.clone(),
            project_id: request.project_id,
            name,
            email,
            soul_md: request.soul_md,
            voice_sample_ref: voice,
            tier_id: instance.settings.default_tier.clone(),
            status: AgentStatus::Active,
            created_at: now,
            updated_at: now,
        };
        self.inner
            .ports
            .stores
            .agents
            .insert_agent(&agent)
            .await
            .map_err(|e| {
                if e.kind() == ErrorKind::Conflict {
                    Error::conflict("an agent with this email already exists on this instance")
                        .with_param("email")
                } else {
                    e
                }
            })?;
        // A key that fails to store leaves no half-registered agent behind.
        match self.issue_key(&agent, "default", None).await {
            Ok(key) => Ok(Registered { agent, key }),
            Err(e) => {
                let _ = self.inner.ports.stores.agents.delete_agent(&agent.id).await;
                Err(e)
            }
        }
    }
}
