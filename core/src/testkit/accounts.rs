//! Contract checks for instances, projects, agents and both kinds of keys.

use crate::domain::{
    AdminKey, AdminScope, Agent, AgentStatus, ApiKey, Instance, InstanceSettings, LimitValue,
    Project, RegistrationMode,
};
use crate::error::{ErrorKind, Result};
use crate::ports::{AgentQuery, Stores};

use super::{now_ms, unique};

pub(crate) fn sample_instance() -> Instance {
    let now = now_ms();
    Instance {
        id: unique("inst").replace('_', "-"),
        name: "Test instance".to_owned(),
        settings: InstanceSettings {
            registration: RegistrationMode::Token,
            registration_token_hash: Some("ab".repeat(32)),
            default_tier: "free".to_owned(),
            allowed_models: Some(vec!["demo-text".to_owned(), "gpt-4o".to_owned()]),
            storage_bytes: LimitValue::Max(5_000_000_000),
        },
        created_at: now,
        updated_at: now,
    }
}

pub(crate) fn sample_agent(instance_id: &str, email: Option<&str>) -> Agent {
    let now = now_ms();
    Agent {
        id: unique("agt"),
        instance_id: instance_id.to_owned(),
        project_id: None,
        name: "Ada — the agent".to_owned(),
        email: email.map(str::to_owned),
        soul_md: "# SOUL\nI make films about ✨ lighthouses.".to_owned(),
        voice_sample_ref: Some("https://voices.test/ada.wav".to_owned()),
        tier_id: "free".to_owned(),
        status: AgentStatus::Active,
        created_at: now,
        updated_at: now,
    }
}

/// Instances: insert, conflict, get, list, update, delete; settings round-trip exactly.
pub async fn instances(stores: &Stores) -> Result<()> {
    let s = &stores.instances;
    let mut inst = sample_instance();
    s.insert_instance(&inst).await?;
    let again = s.insert_instance(&inst).await;
    assert_eq!(again.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    assert_eq!(s.get_instance(&inst.id).await?, Some(inst.clone()));
    assert!(s.list_instances().await?.iter().any(|i| i == &inst));

    inst.name = "Renamed".to_owned();
    inst.settings.registration = RegistrationMode::AdminOnly;
    inst.settings.registration_token_hash = None;
    inst.settings.allowed_models = None;
    inst.updated_at = now_ms();
    s.update_instance(&inst).await?;
    assert_eq!(s.get_instance(&inst.id).await?, Some(inst.clone()));

    assert!(s.delete_instance(&inst.id).await?);
    assert!(!s.delete_instance(&inst.id).await?);
    assert_eq!(s.get_instance(&inst.id).await?, None);
    let missing = s.update_instance(&inst).await;
    assert_eq!(missing.err().map(|e| e.kind()), Some(ErrorKind::NotFound));
    Ok(())
}

/// Projects: unique names per instance, listing per instance, delete detaches agents.
pub async fn projects(stores: &Stores) -> Result<()> {
    let inst = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    let project = Project {
        id: unique("prj"),
        instance_id: inst.id.clone(),
        name: "films".to_owned(),
        description: Some("all the films".to_owned()),
        created_at: now_ms(),
    };
    stores.projects.insert_project(&project).await?;
    let twin = Project {
        id: unique("prj"),
        ..project.clone()
    };
    let dup = stores.projects.insert_project(&twin).await;
    assert_eq!(dup.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    assert_eq!(
        stores.projects.get_project(&project.id).await?,
        Some(project.clone())
    );
    assert_eq!(
        stores.projects.list_projects(&inst.id).await?,
        vec![project.clone()]
    );

    let mut agent = sample_agent(&inst.id, None);
    agent.project_id = Some(project.id.clone());
    stores.agents.insert_agent(&agent).await?;
    assert!(stores.projects.delete_project(&project.id).await?);
    let reloaded = stores.agents.get_agent(&agent.id).await?;
    assert_eq!(reloaded.map(|a| a.project_id), Some(None));
    assert!(stores.projects.list_projects(&inst.id).await?.is_empty());
    Ok(())
}

/// Agents: round-trip, email unique per instance, filters, cursor paging, delete takes keys.
pub async fn agents(stores: &Stores) -> Result<()> {
    let inst = sample_instance();
    let other = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    stores.instances.insert_instance(&other).await?;

    let a = sample_agent(&inst.id, Some("ada@example.com"));
    stores.agents.insert_agent(&a).await?;
    assert_eq!(stores.agents.get_agent(&a.id).await?, Some(a.clone()));
    let same_email = sample_agent(&inst.id, Some("ada@example.com"));
    let dup = stores.agents.insert_agent(&same_email).await;
    assert_eq!(dup.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    // The same email on another instance is a different account.
    stores
        .agents
        .insert_agent(&sample_agent(&other.id, Some("ada@example.com")))
        .await?;
    // Agents without email never clash.
    let b = sample_agent(&inst.id, None);
    let c = sample_agent(&inst.id, None);
    stores.agents.insert_agent(&b).await?;
    stores.agents.insert_agent(&c).await?;

    let all = |limit| AgentQuery {
        instance_id: Some(inst.id.clone()),
        limit,
        ..AgentQuery::default()
    };
    let listed: Vec<String> = stores
        .agents
        .list_agents(&all(10))
        .await?
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(listed, vec![a.id.clone(), b.id.clone(), c.id.clone()]);
    let first = stores.agents.list_agents(&all(2)).await?;
    assert_eq!(first.len(), 2);
    let rest = stores
        .agents
        .list_agents(&AgentQuery {
            after: Some(first[1].id.clone()),
            ..all(10)
        })
        .await?;
    assert_eq!(rest.iter().map(|x| &x.id).collect::<Vec<_>>(), vec![&c.id]);

    let mut suspended = b.clone();
    suspended.status = AgentStatus::Suspended;
    suspended.tier_id = "pro".to_owned();
    suspended.updated_at = now_ms();
    stores.agents.update_agent(&suspended).await?;
    let only_suspended = stores
        .agents
        .list_agents(&AgentQuery {
            status: Some(AgentStatus::Suspended),
            ..all(10)
        })
        .await?;
    assert_eq!(only_suspended, vec![suspended.clone()]);
    let on_pro = stores
        .agents
        .list_agents(&AgentQuery {
            tier_id: Some("pro".to_owned()),
            ..all(10)
        })
        .await?;
    assert_eq!(on_pro.len(), 1);

    let key = sample_key(&a);
    stores.api_keys.insert_api_key(&key).await?;
    assert!(stores.agents.delete_agent(&a.id).await?);
    assert!(!stores.agents.delete_agent(&a.id).await?);
    assert!(
        stores
            .api_keys
            .find_api_keys_by_prefix(&key.prefix)
            .await?
            .is_empty()
    );
    let missing = stores.agents.update_agent(&a).await;
    assert_eq!(missing.err().map(|e| e.kind()), Some(ErrorKind::NotFound));
    Ok(())
}

fn sample_key(agent: &Agent) -> ApiKey {
    let prefix = format!("ml_{}", &unique("k")[20..]);
    ApiKey {
        id: unique("key"),
        agent_id: agent.id.clone(),
        instance_id: agent.instance_id.clone(),
        name: "default".to_owned(),
        prefix,
        hash: crate::secret::hash(&unique("secret")),
        created_at: now_ms(),
        expires_at: Some(now_ms() + chrono::Duration::days(30)),
        revoked_at: None,
    }
}

/// API keys: prefix lookup returns every match, listing per agent, revoke once and only own.
pub async fn api_keys(stores: &Stores) -> Result<()> {
    let inst = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    let agent = sample_agent(&inst.id, None);
    let stranger = sample_agent(&inst.id, None);
    stores.agents.insert_agent(&agent).await?;
    stores.agents.insert_agent(&stranger).await?;
    let k1 = sample_key(&agent);
    // Two keys may share a prefix; lookup must return both.
    let k2 = ApiKey {
        id: unique("key"),
        hash: crate::secret::hash("other"),
        expires_at: None,
        ..k1.clone()
    };
    stores.api_keys.insert_api_key(&k1).await?;
    stores.api_keys.insert_api_key(&k2).await?;
    let dup = stores.api_keys.insert_api_key(&k1).await;
    assert_eq!(dup.err().map(|e| e.kind()), Some(ErrorKind::Conflict));
    let mut found = stores.api_keys.find_api_keys_by_prefix(&k1.prefix).await?;
    found.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(found, vec![k1.clone(), k2.clone()]);
    assert_eq!(stores.api_keys.list_api_keys(&agent.id).await?.len(), 2);
    assert!(
        stores
            .api_keys
            .list_api_keys(&stranger.id)
            .await?
            .is_empty()
    );

    let at = now_ms();
    assert!(
        !stores
            .api_keys
            .revoke_api_key(&stranger.id, &k1.id, at)
            .await?
    );
    assert!(
        stores
            .api_keys
            .revoke_api_key(&agent.id, &k1.id, at)
            .await?
    );
    assert!(
        !stores
            .api_keys
            .revoke_api_key(&agent.id, &k1.id, at)
            .await?
    );
    let after = stores.api_keys.find_api_keys_by_prefix(&k1.prefix).await?;
    let revoked = after
        .iter()
        .find(|k| k.id == k1.id)
        .and_then(|k| k.revoked_at);
    assert_eq!(revoked, Some(at));
    Ok(())
}

/// Admin keys: scopes and read-only survive storage; revoke once.
pub async fn admin_keys(stores: &Stores) -> Result<()> {
    let inst = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    let key = |scope: AdminScope, read_only| AdminKey {
        id: unique("adk"),
        scope,
        read_only,
        name: "ops".to_owned(),
        prefix: format!("mla_{}", &unique("p")[20..]),
        hash: crate::secret::hash(&unique("s")),
        created_at: now_ms(),
        expires_at: None,
        revoked_at: None,
    };
    let operator = key(AdminScope::Operator, false);
    let scoped = key(
        AdminScope::Instance {
            instance_id: inst.id.clone(),
        },
        true,
    );
    stores.admin_keys.insert_admin_key(&operator).await?;
    stores.admin_keys.insert_admin_key(&scoped).await?;
    assert_eq!(
        stores
            .admin_keys
            .find_admin_keys_by_prefix(&scoped.prefix)
            .await?,
        vec![scoped.clone()]
    );
    let all = stores.admin_keys.list_admin_keys().await?;
    assert!(all.contains(&operator) && all.contains(&scoped));
    let at = now_ms();
    assert!(stores.admin_keys.revoke_admin_key(&scoped.id, at).await?);
    assert!(!stores.admin_keys.revoke_admin_key(&scoped.id, at).await?);
    let reloaded = stores
        .admin_keys
        .find_admin_keys_by_prefix(&scoped.prefix)
        .await?;
    assert_eq!(reloaded.first().and_then(|k| k.revoked_at), Some(at));
    Ok(())
}

/// Instances' provider keys: put replaces, list is per instance by provider, delete once.
pub async fn provider_keys(stores: &Stores) -> Result<()> {
    use crate::domain::{InstanceProviderKey, Provider};
    let inst = sample_instance();
    let other = sample_instance();
    stores.instances.insert_instance(&inst).await?;
    stores.instances.insert_instance(&other).await?;
    let key = |instance: &str, provider, sealed: &str| InstanceProviderKey {
        instance_id: instance.to_owned(),
        provider,
        sealed_key: sealed.to_owned(),
        key_hint: "…abcd".to_owned(),
        base_url: None,
        updated_at: now_ms(),
    };
    stores
        .provider_keys
        .put_provider_key(&key(&inst.id, Provider::Openai, "v1.a.b"))
        .await?;
    stores
        .provider_keys
        .put_provider_key(&key(&inst.id, Provider::Anthropic, "v1.c.d"))
        .await?;
    stores
        .provider_keys
        .put_provider_key(&key(&other.id, Provider::Openai, "v1.e.f"))
        .await?;
    let mut replaced = key(&inst.id, Provider::Openai, "v1.g.h");
    replaced.base_url = Some("https://proxy.test/v1".to_owned());
    stores.provider_keys.put_provider_key(&replaced).await?;
    let listed = stores.provider_keys.list_provider_keys(&inst.id).await?;
    assert_eq!(
        listed.iter().map(|k| k.provider).collect::<Vec<_>>(),
        vec![Provider::Anthropic, Provider::Openai]
    );
    assert_eq!(listed[1], replaced);
    assert!(
        stores
            .provider_keys
            .delete_provider_key(&inst.id, Provider::Openai)
            .await?
    );
    assert!(
        !stores
            .provider_keys
            .delete_provider_key(&inst.id, Provider::Openai)
            .await?
    );
    assert_eq!(
        stores
            .provider_keys
            .list_provider_keys(&inst.id)
            .await?
            .len(),
        1
    );
    assert_eq!(
        stores
            .provider_keys
            .list_provider_keys(&other.id)
            .await?
            .len(),
        1
    );
    Ok(())
}
