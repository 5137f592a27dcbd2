//! `molts admin …`: everyday admin tasks run straight against the database through the same
//! core use cases the admin API calls. Whoever can reach the database is the operator, so the
//! CLI acts with operator scope. Output is JSON, for people and scripts alike.

use clap::Subcommand;
use molts_core::domain::{
    AdminScope, AgentPatch, AgentStatus, Modality, ModelFilter, ModelStatus, NewAgent,
    RegistrationMode,
};
use molts_core::gateway::{
    AdminKeyRequest, AdminPrincipal, AgentListRequest, Background, ModelPatch, NewInstance,
};
use serde::Serialize;
use serde_json::json;

use crate::config::Settings;
use crate::wiring;

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Instances (tenants).
    #[command(subcommand)]
    Instances(InstanceCommand),
    /// Agents.
    #[command(subcommand)]
    Agents(AgentCommand),
    /// Tiers.
    #[command(subcommand)]
    Tiers(TierCommand),
    /// Admin keys.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Model configs.
    #[command(subcommand)]
    Models(ModelCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum InstanceCommand {
    /// List instances.
    List,
    /// Create an instance.
    Create {
        /// Slug id.
        id: String,
        /// Human name.
        #[arg(long)]
        name: String,
        /// open, token or admin_only.
        #[arg(long, default_value = "open")]
        registration: String,
        /// Registration token, for `token` mode.
        #[arg(long)]
        registration_token: Option<String>,
        /// Tier for new agents.
        #[arg(long)]
        default_tier: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// List agents.
    List {
        /// Only this instance.
        #[arg(long)]
        instance: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one agent with its usage.
    Show {
        /// Agent id.
        id: String,
    },
    /// Create an agent and print its key once.
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Instance (the default instance when absent).
        #[arg(long)]
        instance: Option<String>,
        /// Email.
        #[arg(long)]
        email: Option<String>,
    },
    /// Move an agent to another tier.
    SetTier {
        /// Agent id.
        id: String,
        /// Tier id.
        tier: String,
    },
    /// Suspend an agent: its keys stop working.
    Suspend {
        /// Agent id.
        id: String,
    },
    /// Reactivate a suspended agent.
    Activate {
        /// Agent id.
        id: String,
    },
    /// Delete an agent and its keys.
    Delete {
        /// Agent id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TierCommand {
    /// List tiers with their limits.
    List,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// List admin keys (no secrets).
    List,
    /// Issue an admin key and print it once.
    Create {
        /// A label.
        #[arg(long)]
        name: String,
        /// Limit it to one instance; an operator key otherwise.
        #[arg(long)]
        instance: Option<String>,
        /// Read-only.
        #[arg(long)]
        read_only: bool,
    },
    /// Revoke an admin key.
    Revoke {
        /// Key id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ModelCommand {
    /// List model configs.
    List {
        /// Only this modality (text, image, speech, video, stock, render).
        #[arg(long = "type")]
        modality: Option<String>,
        /// Only this status (active, beta, deprecated).
        #[arg(long)]
        status: Option<String>,
    },
    /// Enable a model config.
    Enable {
        /// Model id.
        id: String,
    },
    /// Disable a model config.
    Disable {
        /// Model id.
        id: String,
    },
}

fn print<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn parse<T>(
    what: &str,
    value: Option<String>,
    parse: fn(&str) -> Option<T>,
) -> Result<Option<T>, String> {
    value
        .map(|v| parse(&v).ok_or_else(|| format!("unknown {what} '{v}'")))
        .transpose()
}

pub(crate) async fn run(settings: &Settings, command: AdminCommand) -> Result<(), String> {
    // A one-shot command: nothing may be left running when it exits.
    let gateway = wiring::gateway(settings, Background::BeforeAnswering).await?;
    gateway
        .bootstrap(settings.shared.admin_token.as_deref())
        .await
        .map_err(|e| e.to_string())?;
    let admin = AdminPrincipal {
        key_id: "cli".to_owned(),
        scope: AdminScope::Operator,
        read_only: false,
    };
    let g = &gateway;
    let e = |e: molts_core::Error| e.message().to_owned();
    match command {
        AdminCommand::Instances(InstanceCommand::List) => {
            print(&g.admin_list_instances(&admin).await.map_err(e)?)
        }
        AdminCommand::Instances(InstanceCommand::Create {
            id,
            name,
            registration,
            registration_token,
            default_tier,
        }) => {
            let registration = Some(
                RegistrationMode::parse(&registration)
                    .ok_or_else(|| format!("unknown registration mode '{registration}'"))?,
            );
            let request = NewInstance {
                id,
                name,
                registration,
                registration_token,
                default_tier,
                allowed_models: None,
                storage_bytes: None,
            };
            print(&g.admin_create_instance(&admin, request).await.map_err(e)?)
        }
        AdminCommand::Agents(cmd) => agents(g, &admin, cmd).await,
        AdminCommand::Tiers(TierCommand::List) => {
            print(&g.admin_list_tiers(&admin).await.map_err(e)?)
        }
        AdminCommand::Keys(KeyCommand::List) => {
            print(&g.admin_list_admin_keys(&admin).await.map_err(e)?)
        }
        AdminCommand::Keys(KeyCommand::Create {
            name,
            instance,
            read_only,
        }) => {
            let request = AdminKeyRequest {
                name,
                instance_id: instance,
                read_only,
                expires_in_days: None,
            };
            let issued = g.admin_create_admin_key(&admin, request).await.map_err(e)?;
            print(&json!({"key": issued.key, "secret": issued.secret, "warning": "shown once"}))
        }
        AdminCommand::Keys(KeyCommand::Revoke { id }) => {
            g.admin_revoke_admin_key(&admin, &id).await.map_err(e)?;
            print(&json!({"revoked": id}))
        }
        AdminCommand::Models(ModelCommand::List { modality, status }) => {
            let filter = ModelFilter {
                modality: parse("type", modality, Modality::parse)?,
                status: parse("status", status, ModelStatus::parse)?,
                ..ModelFilter::default()
            };
            print(&g.admin_list_models(&admin, &filter).await.map_err(e)?)
        }
        AdminCommand::Models(ModelCommand::Enable { id }) => {
            let patch = ModelPatch {
                enabled: Some(true),
                ..ModelPatch::default()
            };
            print(&g.admin_patch_model(&admin, &id, patch).await.map_err(e)?)
        }
        AdminCommand::Models(ModelCommand::Disable { id }) => {
            let patch = ModelPatch {
                enabled: Some(false),
                ..ModelPatch::default()
            };
            print(&g.admin_patch_model(&admin, &id, patch).await.map_err(e)?)
        }
    }
}

async fn agents(
    g: &molts_core::Gateway,
    admin: &AdminPrincipal,
    cmd: AgentCommand,
) -> Result<(), String> {
    let e = |e: molts_core::Error| e.message().to_owned();
    let status = |status| AgentPatch {
        status: Some(status),
        ..AgentPatch::default()
    };
    match cmd {
        AgentCommand::List { instance, limit } => {
            let request = AgentListRequest {
                instance_id: instance,
                limit: Some(limit),
                ..AgentListRequest::default()
            };
            print(&g.admin_list_agents(admin, request).await.map_err(e)?)
        }
        AgentCommand::Show { id } => print(&g.admin_get_agent(admin, &id).await.map_err(e)?),
        AgentCommand::Create {
            name,
            instance,
            email,
        } => {
            let request = NewAgent {
                name,
                instance,
                email,
                ..NewAgent::default()
            };
            let r = g.admin_create_agent(admin, request).await.map_err(e)?;
            print(&json!({"agent": r.agent, "api_key": r.key.secret, "warning": "shown once"}))
        }
        AgentCommand::SetTier { id, tier } => {
            let patch = AgentPatch {
                tier: Some(tier),
                ..AgentPatch::default()
            };
            print(&g.admin_update_agent(admin, &id, patch).await.map_err(e)?)
        }
        AgentCommand::Suspend { id } => print(
            &g.admin_update_agent(admin, &id, status(AgentStatus::Suspended))
                .await
                .map_err(e)?,
        ),
        AgentCommand::Activate { id } => print(
            &g.admin_update_agent(admin, &id, status(AgentStatus::Active))
                .await
                .map_err(e)?,
        ),
        AgentCommand::Delete { id } => {
            g.admin_delete_agent(admin, &id).await.map_err(e)?;
            print(&json!({"deleted": id}))
        }
    }
}
