//! Admin scopes: an instance admin reaches only its own instance (another tenant's things answer
//! `NotFound`, never `Forbidden`, so nothing leaks), may not touch tiers, model configs or other
//! instances (`Forbidden`), and read-only keys never write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Harness, expect_err, new_agent, new_agent_in, run};
use molts_core::ErrorCode;
use molts_core::ErrorKind;
use molts_core::domain::{
    AgentPatch, AgentStatus, LimitValue, ModelFilter, RegistrationMode, Tier,
};
use molts_core::gateway::{
    AdminKeyRequest, AdminPrincipal, AgentListRequest, InstancePatch, ModelPatch, NewInstance,
    NewProject,
};

/// Two tenants, each with an admin and an agent.
struct Tenants {
    h: Harness,
    acme: AdminPrincipal,
    globex: AdminPrincipal,
    acme_agent: String,
    globex_agent: String,
}

async fn tenants() -> Tenants {
    let h = Harness::start().await;
    h.instance("acme", RegistrationMode::AdminOnly, None).await;
    h.instance("globex", RegistrationMode::AdminOnly, None)
        .await;
    let acme = h.admin(Some("acme"), false).await;
    let globex = h.admin(Some("globex"), false).await;
    let acme_agent = h.admin_agent(&acme, "acme", "Acme agent").await.agent.id;
    let globex_agent = h
        .admin_agent(&globex, "globex", "Globex agent")
        .await
        .agent
        .id;
    Tenants {
        h,
        acme,
        globex,
        acme_agent,
        globex_agent,
    }
}

fn some_tier(id: &str) -> Tier {
    Tier {
        id: id.to_owned(),
        name: "Custom".to_owned(),
        description: String::new(),
        limits: Default::default(),
        requests_per_minute: Some(10),
        storage_bytes: LimitValue::Unlimited,
        created_at: Default::default(),
        updated_at: Default::default(),
    }
}

#[test]
fn an_instance_admin_sees_only_its_own_instance() {
    run(async {
        let t = tenants().await;
        let listed =
            t.h.gateway
                .admin_list_instances(&t.acme)
                .await
                .expect("list");
        let ids: Vec<&str> = listed.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["acme"]);
        let everything =
            t.h.gateway
                .admin_list_instances(&t.h.operator)
                .await
                .expect("list");
        assert_eq!(everything.len(), 3);

        t.h.gateway
            .admin_get_instance(&t.acme, "acme")
            .await
            .expect("own");
        for other in ["globex", "default", "does-not-exist"] {
            let e = expect_err(
                t.h.gateway.admin_get_instance(&t.acme, other).await,
                ErrorKind::NotFound,
            );
            assert_eq!(e.code(), Some(ErrorCode::NotFound));
        }
    });
}

/// An instance's storage cap is a commercial term: its own admin cannot raise it, the operator
/// sets and lifts it.
#[test]
fn only_the_operator_sets_an_instances_storage_cap() {
    run(async {
        let t = tenants().await;
        let cap = |value| InstancePatch {
            storage_bytes: Some(value),
            ..InstancePatch::default()
        };
        expect_err(
            t.h.gateway
                .admin_update_instance(&t.acme, "acme", cap(LimitValue::Unlimited))
                .await,
            ErrorKind::Forbidden,
        );
        let capped =
            t.h.gateway
                .admin_update_instance(&t.h.operator, "acme", cap(LimitValue::Max(1 << 30)))
                .await
                .expect("the operator sets it");
        assert_eq!(capped.settings.storage_bytes, LimitValue::Max(1 << 30));
        let read =
            t.h.gateway
                .admin_get_instance(&t.acme, "acme")
                .await
                .expect("get");
        assert_eq!(read.settings.storage_bytes, LimitValue::Max(1 << 30));
        let lifted =
            t.h.gateway
                .admin_update_instance(&t.h.operator, "acme", cap(LimitValue::Unlimited))
                .await
                .expect("and lifts it");
        assert_eq!(lifted.settings.storage_bytes, LimitValue::Unlimited);
    });
}

#[test]
fn an_instance_admin_cannot_change_another_instance() {
    run(async {
        let t = tenants().await;
        let rename = || InstancePatch {
            name: Some("Hijacked".to_owned()),
            ..InstancePatch::default()
        };
        expect_err(
            t.h.gateway
                .admin_update_instance(&t.acme, "globex", rename())
                .await,
            ErrorKind::NotFound,
        );
        let globex =
            t.h.gateway
                .admin_get_instance(&t.h.operator, "globex")
                .await
                .expect("get");
        assert_eq!(globex.name, "Instance globex");

        let own =
            t.h.gateway
                .admin_update_instance(&t.acme, "acme", rename())
                .await
                .expect("its own instance");
        assert_eq!(own.name, "Hijacked");
    });
}

#[test]
fn only_the_operator_creates_and_deletes_instances() {
    run(async {
        let t = tenants().await;
        let request = NewInstance {
            id: "initech".to_owned(),
            name: "Initech".to_owned(),
            registration: None,
            registration_token: None,
            default_tier: None,
            allowed_models: None,
            storage_bytes: None,
        };
        expect_err(
            t.h.gateway
                .admin_create_instance(&t.acme, request.clone())
                .await,
            ErrorKind::Forbidden,
        );
        expect_err(
            t.h.gateway.admin_delete_instance(&t.acme, "acme").await,
            ErrorKind::Forbidden,
        );
        let missing = t.h.stores().instances.get_instance("initech").await;
        assert!(missing.expect("get").is_none());
        t.h.gateway
            .admin_create_instance(&t.h.operator, request)
            .await
            .expect("the operator may");
    });
}

#[test]
fn an_instance_admin_lists_only_its_own_agents() {
    run(async {
        let t = tenants().await;
        t.h.register("Default agent").await;
        let page =
            t.h.gateway
                .admin_list_agents(&t.acme, AgentListRequest::default())
                .await
                .expect("list");
        let ids: Vec<&str> = page.data.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, [t.acme_agent.as_str()]);
        assert!(!page.has_more);

        let e = expect_err(
            t.h.gateway
                .admin_list_agents(
                    &t.acme,
                    AgentListRequest {
                        instance_id: Some("globex".to_owned()),
                        ..AgentListRequest::default()
                    },
                )
                .await,
            ErrorKind::NotFound,
        );
        assert_eq!(e.code(), Some(ErrorCode::NotFound));

        let all =
            t.h.gateway
                .admin_list_agents(&t.h.operator, AgentListRequest::default())
                .await
                .expect("operator");
        assert_eq!(all.data.len(), 3);
        let only_globex =
            t.h.gateway
                .admin_list_agents(
                    &t.h.operator,
                    AgentListRequest {
                        instance_id: Some("globex".to_owned()),
                        ..AgentListRequest::default()
                    },
                )
                .await
                .expect("operator filter");
        assert_eq!(only_globex.data.len(), 1);
        assert_eq!(only_globex.data[0].id, t.globex_agent);
    });
}

#[test]
fn another_tenants_agent_is_not_found_and_left_untouched() {
    run(async {
        let t = tenants().await;
        let g = &t.h.gateway;
        let target = t.globex_agent.as_str();
        expect_err(
            g.admin_get_agent(&t.acme, target).await,
            ErrorKind::NotFound,
        );
        for patch in [
            AgentPatch {
                status: Some(AgentStatus::Suspended),
                ..AgentPatch::default()
            },
            AgentPatch {
                tier: Some("free".to_owned()),
                ..AgentPatch::default()
            },
            AgentPatch {
                name: Some("Renamed".to_owned()),
                ..AgentPatch::default()
            },
        ] {
            expect_err(
                g.admin_update_agent(&t.acme, target, patch).await,
                ErrorKind::NotFound,
            );
        }
        expect_err(
            g.admin_delete_agent(&t.acme, target).await,
            ErrorKind::NotFound,
        );

        let stored =
            t.h.stores()
                .agents
                .get_agent(target)
                .await
                .expect("get")
                .expect("still there");
        assert_eq!(stored.status, AgentStatus::Active);
        assert_eq!(stored.name, "Globex agent");
        // The owner still manages it.
        g.admin_get_agent(&t.globex, target)
            .await
            .expect("its own admin");
    });
}

#[test]
fn an_instance_admin_manages_its_own_agents() {
    run(async {
        let t = tenants().await;
        let g = &t.h.gateway;
        let updated = g
            .admin_update_agent(
                &t.acme,
                &t.acme_agent,
                AgentPatch {
                    status: Some(AgentStatus::Suspended),
                    name: Some("Paused".to_owned()),
                    ..AgentPatch::default()
                },
            )
            .await
            .expect("update");
        assert_eq!(updated.status, AgentStatus::Suspended);
        assert_eq!(updated.name, "Paused");
        let detail = g
            .admin_get_agent(&t.acme, &t.acme_agent)
            .await
            .expect("get");
        assert_eq!(detail.agent.status, AgentStatus::Suspended);
        g.admin_delete_agent(&t.acme, &t.acme_agent)
            .await
            .expect("delete");
        expect_err(
            g.admin_get_agent(&t.h.operator, &t.acme_agent).await,
            ErrorKind::NotFound,
        );
    });
}

#[test]
fn an_instance_admin_cannot_create_agents_elsewhere() {
    run(async {
        let t = tenants().await;
        expect_err(
            t.h.gateway
                .admin_create_agent(&t.acme, new_agent_in("Intruder", "globex"))
                .await,
            ErrorKind::NotFound,
        );
        // Without an instance, the agent lands in the admin's own instance.
        let created =
            t.h.gateway
                .admin_create_agent(&t.acme, new_agent("Mine"))
                .await
                .expect("create");
        assert_eq!(created.agent.instance_id, "acme");
    });
}

#[test]
fn projects_are_scoped_to_their_instance() {
    run(async {
        let t = tenants().await;
        let g = &t.h.gateway;
        let own = g
            .admin_create_project(
                &t.acme,
                NewProject {
                    instance_id: None,
                    name: "Films".to_owned(),
                    description: None,
                },
            )
            .await
            .expect("defaults to its own instance");
        assert_eq!(own.instance_id, "acme");
        let theirs = g
            .admin_create_project(
                &t.globex,
                NewProject {
                    instance_id: None,
                    name: "Films".to_owned(),
                    description: None,
                },
            )
            .await
            .expect("the same name in another instance");

        expect_err(
            g.admin_create_project(
                &t.acme,
                NewProject {
                    instance_id: Some("globex".to_owned()),
                    name: "Sneaky".to_owned(),
                    description: None,
                },
            )
            .await,
            ErrorKind::NotFound,
        );
        expect_err(
            g.admin_list_projects(&t.acme, "globex").await,
            ErrorKind::NotFound,
        );
        expect_err(
            g.admin_delete_project(&t.acme, &theirs.id).await,
            ErrorKind::NotFound,
        );
        // Moving an own agent into another tenant's project is refused the same way.
        let e = expect_err(
            g.admin_update_agent(
                &t.acme,
                &t.acme_agent,
                AgentPatch {
                    project_id: Some(theirs.id.clone()),
                    ..AgentPatch::default()
                },
            )
            .await,
            ErrorKind::NotFound,
        );
        assert_eq!(e.param(), Some("project_id"));
        let listed = g
            .admin_list_projects(&t.globex, "globex")
            .await
            .expect("list");
        assert_eq!(listed.len(), 1);
        // The operator creating a project must name the instance.
        let e = expect_err(
            g.admin_create_project(
                &t.h.operator,
                NewProject {
                    instance_id: None,
                    name: "Nowhere".to_owned(),
                    description: None,
                },
            )
            .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("instance_id"));
    });
}

#[test]
fn an_instance_admin_reads_but_cannot_change_tiers_or_model_configs() {
    run(async {
        let t = tenants().await;
        let g = &t.h.gateway;
        assert_eq!(g.admin_list_tiers(&t.acme).await.expect("tiers").len(), 3);
        g.admin_get_tier(&t.acme, "pro").await.expect("get tier");
        let models = g
            .admin_list_models(&t.acme, &ModelFilter::default())
            .await
            .expect("models");
        assert_eq!(models.len(), 21);

        let e = expect_err(
            g.admin_create_tier(&t.acme, some_tier("custom")).await,
            ErrorKind::Forbidden,
        );
        assert_eq!(e.code(), Some(ErrorCode::Forbidden));
        let mut free = g.admin_get_tier(&t.acme, "free").await.expect("free");
        free.requests_per_minute = Some(1_000_000);
        expect_err(
            g.admin_replace_tier(&t.acme, "free", free).await,
            ErrorKind::Forbidden,
        );
        expect_err(
            g.admin_delete_tier(&t.acme, "enterprise").await,
            ErrorKind::Forbidden,
        );

        let mut model = g.admin_get_model(&t.acme, "demo-text").await.expect("get");
        model.id = "my-model".to_owned();
        expect_err(
            g.admin_create_model(&t.acme, model.clone()).await,
            ErrorKind::Forbidden,
        );
        model.id = "demo-text".to_owned();
        expect_err(
            g.admin_replace_model(&t.acme, "demo-text", model).await,
            ErrorKind::Forbidden,
        );
        expect_err(
            g.admin_patch_model(
                &t.acme,
                "gpt-4o",
                ModelPatch {
                    enabled: Some(false),
                    ..ModelPatch::default()
                },
            )
            .await,
            ErrorKind::Forbidden,
        );
        expect_err(
            g.admin_delete_model(&t.acme, "gpt-4o").await,
            ErrorKind::Forbidden,
        );

        // Nothing changed.
        assert!(
            t.h.stores()
                .tiers
                .get_tier("custom")
                .await
                .expect("get")
                .is_none()
        );
        let free = g.admin_get_tier(&t.h.operator, "free").await.expect("free");
        assert_eq!(free.requests_per_minute, Some(60));
        let gpt = g
            .admin_get_model(&t.h.operator, "gpt-4o")
            .await
            .expect("get");
        assert!(gpt.enabled);
        assert!(
            t.h.stores()
                .models
                .get_model("my-model")
                .await
                .expect("get")
                .is_none()
        );
    });
}

#[test]
fn a_read_only_operator_reads_everything_and_writes_nothing() {
    run(async {
        let t = tenants().await;
        let ro = t.h.admin(None, true).await;
        let g = &t.h.gateway;
        assert_eq!(g.admin_list_instances(&ro).await.expect("list").len(), 3);
        g.admin_get_agent(&ro, &t.globex_agent).await.expect("get");
        assert_eq!(
            g.admin_list_agents(&ro, AgentListRequest::default())
                .await
                .expect("agents")
                .data
                .len(),
            2
        );
        g.admin_list_admin_keys(&ro).await.expect("keys");

        let forbidden = [
            g.admin_create_instance(
                &ro,
                NewInstance {
                    id: "initech".to_owned(),
                    name: "Initech".to_owned(),
                    registration: None,
                    registration_token: None,
                    default_tier: None,
                    allowed_models: None,
                    storage_bytes: None,
                },
            )
            .await
            .map(drop),
            g.admin_update_instance(&ro, "acme", InstancePatch::default())
                .await
                .map(drop),
            g.admin_delete_instance(&ro, "acme").await,
            g.admin_create_tier(&ro, some_tier("custom"))
                .await
                .map(drop),
            g.admin_delete_tier(&ro, "enterprise").await,
            g.admin_patch_model(&ro, "gpt-4o", ModelPatch::default())
                .await
                .map(drop),
            g.admin_delete_model(&ro, "gpt-4o").await,
            g.admin_update_agent(
                &ro,
                &t.acme_agent,
                AgentPatch {
                    status: Some(AgentStatus::Suspended),
                    ..AgentPatch::default()
                },
            )
            .await
            .map(drop),
            g.admin_delete_agent(&ro, &t.acme_agent).await,
            g.admin_create_agent(&ro, new_agent_in("A", "acme"))
                .await
                .map(drop),
            g.admin_create_project(
                &ro,
                NewProject {
                    instance_id: Some("acme".to_owned()),
                    name: "P".to_owned(),
                    description: None,
                },
            )
            .await
            .map(drop),
            g.admin_create_admin_key(
                &ro,
                AdminKeyRequest {
                    name: "escalate".to_owned(),
                    ..AdminKeyRequest::default()
                },
            )
            .await
            .map(drop),
            g.admin_revoke_admin_key(&ro, &t.acme.key_id).await,
        ];
        for result in forbidden {
            expect_err(result, ErrorKind::Forbidden);
        }
        let agent = g
            .admin_get_agent(&t.h.operator, &t.acme_agent)
            .await
            .expect("get");
        assert_eq!(agent.agent.status, AgentStatus::Active);
        t.h.gateway
            .authenticate_admin(&t.h.operator_token)
            .await
            .expect("no key was revoked");
    });
}

#[test]
fn a_read_only_instance_admin_reads_its_own_and_gets_not_found_elsewhere() {
    run(async {
        let t = tenants().await;
        let ro = t.h.admin(Some("acme"), true).await;
        let g = &t.h.gateway;
        g.admin_get_agent(&ro, &t.acme_agent)
            .await
            .expect("read own");
        g.admin_list_projects(&ro, "acme").await.expect("projects");
        let suspend = || AgentPatch {
            status: Some(AgentStatus::Suspended),
            ..AgentPatch::default()
        };
        // Own instance: may read, may not write.
        expect_err(
            g.admin_update_agent(&ro, &t.acme_agent, suspend()).await,
            ErrorKind::Forbidden,
        );
        expect_err(
            g.admin_update_instance(&ro, "acme", InstancePatch::default())
                .await,
            ErrorKind::Forbidden,
        );
        expect_err(
            g.admin_create_admin_key(
                &ro,
                AdminKeyRequest {
                    name: "writer".to_owned(),
                    instance_id: Some("acme".to_owned()),
                    ..AdminKeyRequest::default()
                },
            )
            .await,
            ErrorKind::Forbidden,
        );
        // Elsewhere: it does not even learn the agent exists.
        expect_err(
            g.admin_update_agent(&ro, &t.globex_agent, suspend()).await,
            ErrorKind::NotFound,
        );
        expect_err(
            g.admin_get_agent(&ro, &t.globex_agent).await,
            ErrorKind::NotFound,
        );
    });
}

#[test]
fn only_the_operator_changes_commercial_terms() {
    run(async {
        let t = tenants().await;
        let g = &t.h.gateway;
        // An instance admin may not lift its own agents' or instance's tier, nor its model list.
        let upgrade = AgentPatch {
            tier: Some("enterprise".to_owned()),
            ..AgentPatch::default()
        };
        expect_err(
            g.admin_update_agent(&t.acme, &t.acme_agent, upgrade.clone())
                .await,
            ErrorKind::Forbidden,
        );
        let default_tier = InstancePatch {
            default_tier: Some("enterprise".to_owned()),
            ..InstancePatch::default()
        };
        expect_err(
            g.admin_update_instance(&t.acme, "acme", default_tier).await,
            ErrorKind::Forbidden,
        );
        let models = InstancePatch {
            allowed_models: Some(None),
            ..InstancePatch::default()
        };
        expect_err(
            g.admin_update_instance(&t.acme, "acme", models).await,
            ErrorKind::Forbidden,
        );
        let agent = g
            .admin_get_agent(&t.acme, &t.acme_agent)
            .await
            .expect("get");
        assert_eq!(agent.agent.tier_id, "free");
        // It may still rename its instance and suspend its agents; the operator may upgrade.
        let rename = InstancePatch {
            name: Some("Acme Films".to_owned()),
            ..InstancePatch::default()
        };
        g.admin_update_instance(&t.acme, "acme", rename)
            .await
            .expect("rename");
        let upgraded = g
            .admin_update_agent(&t.h.operator, &t.acme_agent, upgrade)
            .await
            .expect("operator");
        assert_eq!(upgraded.tier_id, "enterprise");
    });
}
