//! Admin use cases for agents: list, get, create, change tier, suspend, delete.

use serde::Serialize;

use crate::domain::{Agent, AgentPatch, NewAgent};
use crate::error::{Error, Result};
use crate::ports::AgentQuery;
use crate::validate;

use super::admin::{Page, parse_status};
use super::{AdminPrincipal, Gateway, Registered, UsageReport};

/// An agent as admins see it: profile plus current usage.
#[derive(Debug, Clone, Serialize)]
pub struct AgentDetail {
    /// The agent.
    #[serde(flatten)]
    pub agent: Agent,
    /// Its usage against its tier.
    pub usage: UsageReport,
}

/// Filters for listing agents, as query parameters give them.
#[derive(Debug, Clone, Default)]
pub struct AgentListRequest {
    /// Only this instance (required scope for instance admins is applied regardless).
    pub instance_id: Option<String>,
    /// Only this project.
    pub project_id: Option<String>,
    /// Only this tier.
    pub tier_id: Option<String>,
    /// Only this status word.
    pub status: Option<String>,
    /// Cursor: the last id of the previous page.
    pub after: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
}

impl Gateway {
    /// Agents the admin can see, a page at a time.
    pub async fn admin_list_agents(
        &self,
        admin: &AdminPrincipal,
        request: AgentListRequest,
    ) -> Result<Page<Agent>> {
        let instance_id = match (admin.scope.instance_id(), request.instance_id) {
            (Some(own), Some(asked)) if own != asked => {
                return Err(Error::not_found("instance", &asked));
            }
            (Some(own), _) => Some(own.to_owned()),
            (None, asked) => asked,
        };
        let limit = request.limit.unwrap_or(50);
        if limit == 0 || limit > self.inner.config.max_page_size {
            return Err(Error::invalid(
                "limit",
                format!(
                    "limit must be between 1 and {}",
                    self.inner.config.max_page_size
                ),
            ));
        }
        let query = AgentQuery {
            instance_id,
            project_id: request.project_id,
            tier_id: request.tier_id,
            status: request.status.as_deref().map(parse_status).transpose()?,
            after: request.after,
            limit: limit + 1,
        };
        let mut data = self.inner.ports.stores.agents.list_agents(&query).await?;
        let has_more = data.len() > limit as usize;
        data.truncate(limit as usize);
        Ok(Page { data, has_more })
    }

    /// One agent with its usage.
    pub async fn admin_get_agent(&self, admin: &AdminPrincipal, id: &str) -> Result<AgentDetail> {
        let agent = self.visible_agent(admin, id).await?;
        let tier = self.tier_of(&agent).await?;
        let instance = self.instance_of(&agent).await?;
        let usage = self.usage_for(&agent.id, &instance, &tier).await?;
        Ok(AgentDetail { agent, usage })
    }

    /// Creates an agent as an admin, whatever the instance's registration mode.
    pub async fn admin_create_agent(
        &self,
        admin: &AdminPrincipal,
        mut request: NewAgent,
    ) -> Result<Registered> {
        if request.instance.is_none() {
            request.instance = admin.scope.instance_id().map(str::to_owned);
        }
        self.register_agent(request, Some(admin)).await
    }

    /// Changes an agent's status, name or project; its tier only for the operator.
    pub async fn admin_update_agent(
        &self,
        admin: &AdminPrincipal,
        id: &str,
        patch: AgentPatch,
    ) -> Result<Agent> {
        let mut agent = self.visible_agent(admin, id).await?;
        admin.require_instance_write(&agent.instance_id)?;
        if let Some(tier) = patch.tier {
            // Tiers are what customers pay for: only the operator moves agents between them.
            admin.require_operator()?;
            self.require_tier(&tier, "tier").await?;
            agent.tier_id = tier;
        }
        if let Some(status) = patch.status {
            agent.status = status;
        }
        if let Some(name) = patch.name {
            agent.name = validate::name("name", &name, 100)?;
        }
        if let Some(project_id) = patch.project_id {
            if project_id.is_empty() {
                agent.project_id = None;
            } else {
                let project = self
                    .inner
                    .ports
                    .stores
                    .projects
                    .get_project(&project_id)
                    .await?;
                if project.is_none_or(|p| p.instance_id != agent.instance_id) {
                    return Err(Error::not_found("project", &project_id).with_param("project_id"));
                }
                agent.project_id = Some(project_id);
            }
        }
        agent.updated_at = self.now();
        self.inner.ports.stores.agents.update_agent(&agent).await?;
        self.invalidate_caches();
        Ok(agent)
    }

    /// Deletes an agent and its keys.
    pub async fn admin_delete_agent(&self, admin: &AdminPrincipal, id: &str) -> Result<()> {
        let agent = self.visible_agent(admin, id).await?;
        admin.require_instance_write(&agent.instance_id)?;
        self.inner.ports.stores.agents.delete_agent(id).await?;
        self.invalidate_caches();
        Ok(())
    }

    async fn visible_agent(&self, admin: &AdminPrincipal, id: &str) -> Result<Agent> {
        self.inner
            .ports
            .stores
            .agents
            .get_agent(id)
            .await?
            .filter(|a| admin.can_see(&a.instance_id))
            .ok_or_else(|| Error::not_found("agent", id))
    }
}
