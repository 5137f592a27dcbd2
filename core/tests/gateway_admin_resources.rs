//! Operator management of instances, projects, tiers and agents: validation at save time, and
//! deletes refused while something still uses the thing (a tier with agents, an instance with
//! agents, projects or live admin keys, the default instance).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use molts_core::ErrorCode;
use std::collections::BTreeMap;

use chrono::Duration;
use common::{Harness, expect_err, new_agent_in, run};
use molts_core::domain::{
    AgentPatch, AgentStatus, LimitValue, Period, RegistrationMode, Tier, Unit,
};
use molts_core::gateway::{AgentListRequest, InstancePatch, NewInstance, NewProject};
use molts_core::{ErrorKind, GatewayConfig};

fn tier(id: &str) -> Tier {
    let mut limits = BTreeMap::new();
    limits.insert(
        Unit::Video,
        BTreeMap::from([(Period::Month, LimitValue::Max(3))]),
    );
    Tier {
        id: id.to_owned(),
        name: "Starter".to_owned(),
        description: "Three videos".to_owned(),
        limits,
        requests_per_minute: Some(30),
        storage_bytes: LimitValue::Unlimited,
        created_at: Default::default(),
        updated_at: Default::default(),
    }
}

fn new_instance(id: &str) -> NewInstance {
    NewInstance {
        id: id.to_owned(),
        name: format!("Instance {id}"),
        registration: None,
        registration_token: None,
        default_tier: None,
        allowed_models: None,
        storage_bytes: None,
    }
}

async fn create_project(h: &Harness, instance: &str, name: &str) -> String {
    h.gateway
        .admin_create_project(
            &h.operator,
            NewProject {
                instance_id: Some(instance.to_owned()),
                name: name.to_owned(),
                description: Some("d".to_owned()),
            },
        )
        .await
        .expect("project")
        .id
}

// ---- instances --------------------------------------------------------------------------

#[test]
fn instance_creation_validates_its_fields() {
    run(async {
        let h = Harness::start().await;
        let g = &h.gateway;
        let cases = [
            (new_instance("Bad Id"), "id"),
            (new_instance("has:colon"), "id"),
            (
                NewInstance {
                    name: " ".to_owned(),
                    ..new_instance("ok")
                },
                "name",
            ),
            (
                NewInstance {
                    default_tier: Some("platinum".to_owned()),
                    ..new_instance("ok")
                },
                "default_tier",
            ),
            (
                NewInstance {
                    allowed_models: Some(vec!["gpt-5".to_owned()]),
                    ..new_instance("ok")
                },
                "allowed_models",
            ),
        ];
        for (request, param) in cases {
            let e = expect_err(
                g.admin_create_instance(&h.operator, request).await,
                ErrorKind::Invalid,
            );
            assert_eq!(e.param(), Some(param));
        }
        let ids = g.admin_list_instances(&h.operator).await.expect("list");
        assert_eq!(ids.len(), 1, "only the default instance");

        let created = g
            .admin_create_instance(&h.operator, new_instance("acme"))
            .await
            .expect("create");
        assert_eq!(created.settings.registration, RegistrationMode::Open);
        assert_eq!(created.settings.default_tier, "free");
        assert_eq!(created.created_at, common::start_time());
        expect_err(
            g.admin_create_instance(&h.operator, new_instance("acme"))
                .await,
            ErrorKind::Conflict,
        );
    });
}

#[test]
fn instance_updates_apply_and_validate() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        h.advance(Duration::minutes(3));
        let updated = h
            .gateway
            .admin_update_instance(
                &h.operator,
                "acme",
                InstancePatch {
                    name: Some("Acme Corp".to_owned()),
                    registration: Some(RegistrationMode::AdminOnly),
                    default_tier: Some("pro".to_owned()),
                    ..InstancePatch::default()
                },
            )
            .await
            .expect("update");
        assert_eq!(updated.name, "Acme Corp");
        assert_eq!(updated.settings.registration, RegistrationMode::AdminOnly);
        assert_eq!(updated.settings.default_tier, "pro");
        assert_eq!(updated.created_at, common::start_time());
        assert_eq!(
            updated.updated_at,
            common::start_time() + Duration::minutes(3)
        );
        let stored = h
            .gateway
            .admin_get_instance(&h.operator, "acme")
            .await
            .expect("get");
        assert_eq!(stored, updated);

        let e = expect_err(
            h.gateway
                .admin_update_instance(
                    &h.operator,
                    "acme",
                    InstancePatch {
                        default_tier: Some("platinum".to_owned()),
                        ..InstancePatch::default()
                    },
                )
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("default_tier"));
        expect_err(
            h.gateway
                .admin_update_instance(&h.operator, "nowhere", InstancePatch::default())
                .await,
            ErrorKind::NotFound,
        );
        // The registration mode now applies.
        expect_err(
            h.gateway
                .register_agent(new_agent_in("A", "acme"), None)
                .await,
            ErrorKind::Forbidden,
        );
    });
}

#[test]
fn the_default_instance_cannot_be_deleted() {
    run(async {
        let h = Harness::start().await;
        let e = expect_err(
            h.gateway
                .admin_delete_instance(&h.operator, "default")
                .await,
            ErrorKind::Conflict,
        );
        assert_eq!(e.code(), Some(ErrorCode::Conflict));
        h.gateway
            .admin_get_instance(&h.operator, "default")
            .await
            .expect("still there");
    });
}

#[test]
fn an_instance_with_agents_cannot_be_deleted() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        let agent = h
            .gateway
            .register_agent(new_agent_in("A", "acme"), None)
            .await
            .expect("register");
        let e = expect_err(
            h.gateway.admin_delete_instance(&h.operator, "acme").await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("agents"));
        h.login(&agent.key.secret).await;

        h.gateway
            .admin_delete_agent(&h.operator, &agent.agent.id)
            .await
            .expect("delete agent");
        h.gateway
            .admin_delete_instance(&h.operator, "acme")
            .await
            .expect("now empty");
        expect_err(
            h.gateway.admin_get_instance(&h.operator, "acme").await,
            ErrorKind::NotFound,
        );
        expect_err(
            h.gateway.admin_delete_instance(&h.operator, "acme").await,
            ErrorKind::NotFound,
        );
    });
}

#[test]
fn an_instance_with_projects_or_live_admin_keys_cannot_be_deleted() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        let project = create_project(&h, "acme", "Films").await;
        let admin_key = h.issue_admin_key(Some("acme"), false, None).await;

        let e = expect_err(
            h.gateway.admin_delete_instance(&h.operator, "acme").await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("projects"), "{}", e.message());
        h.gateway
            .admin_delete_project(&h.operator, &project)
            .await
            .expect("delete project");

        let e = expect_err(
            h.gateway.admin_delete_instance(&h.operator, "acme").await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("admin keys"), "{}", e.message());
        h.gateway
            .admin_revoke_admin_key(&h.operator, &admin_key.key.id)
            .await
            .expect("revoke");
        h.gateway
            .admin_delete_instance(&h.operator, "acme")
            .await
            .expect("now empty");

        // A new tenant under the same id is not reachable with the old tenant's key and does not
        // inherit its projects.
        h.instance("acme", RegistrationMode::Open, None).await;
        expect_err(
            h.gateway.authenticate_admin(&admin_key.secret).await,
            ErrorKind::Unauthorized,
        );
        let projects = h
            .gateway
            .admin_list_projects(&h.operator, "acme")
            .await
            .expect("list");
        assert!(projects.is_empty());
    });
}

#[test]
fn an_instance_whose_admin_keys_all_expired_can_be_deleted() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        h.issue_admin_key(Some("acme"), true, Some(1)).await;
        expect_err(
            h.gateway.admin_delete_instance(&h.operator, "acme").await,
            ErrorKind::Conflict,
        );
        h.advance(Duration::days(1));
        h.gateway
            .admin_delete_instance(&h.operator, "acme")
            .await
            .expect("no live key left");
    });
}

// ---- projects ---------------------------------------------------------------------------

#[test]
fn project_names_are_unique_per_instance_and_deleting_one_keeps_its_agents() {
    run(async {
        let h = Harness::start().await;
        let films = create_project(&h, "default", "Films").await;
        let e = expect_err(
            h.gateway
                .admin_create_project(
                    &h.operator,
                    NewProject {
                        instance_id: Some("default".to_owned()),
                        name: "Films".to_owned(),
                        description: None,
                    },
                )
                .await,
            ErrorKind::Conflict,
        );
        assert_eq!(e.code(), Some(ErrorCode::Conflict));
        expect_err(
            h.gateway
                .admin_create_project(
                    &h.operator,
                    NewProject {
                        instance_id: Some("nowhere".to_owned()),
                        name: "Films".to_owned(),
                        description: None,
                    },
                )
                .await,
            ErrorKind::NotFound,
        );

        let (registered, _) = h.agent("Ada").await;
        let moved = h
            .gateway
            .admin_update_agent(
                &h.operator,
                &registered.agent.id,
                AgentPatch {
                    project_id: Some(films.clone()),
                    ..AgentPatch::default()
                },
            )
            .await
            .expect("move");
        assert_eq!(moved.project_id.as_deref(), Some(films.as_str()));
        let in_project = h
            .gateway
            .admin_list_agents(
                &h.operator,
                AgentListRequest {
                    project_id: Some(films.clone()),
                    ..AgentListRequest::default()
                },
            )
            .await
            .expect("list");
        assert_eq!(in_project.data.len(), 1);

        h.gateway
            .admin_delete_project(&h.operator, &films)
            .await
            .expect("delete");
        let agent = h
            .gateway
            .admin_get_agent(&h.operator, &registered.agent.id)
            .await
            .expect("the agent stays");
        assert_eq!(agent.agent.project_id, None);
        expect_err(
            h.gateway.admin_delete_project(&h.operator, &films).await,
            ErrorKind::NotFound,
        );
    });
}

// ---- tiers ------------------------------------------------------------------------------

#[test]
fn tiers_are_validated_created_and_replaced() {
    run(async {
        let h = Harness::start().await;
        let g = &h.gateway;
        for (bad, param) in [
            (
                Tier {
                    id: "Starter".to_owned(),
                    ..tier("x")
                },
                "id",
            ),
            (
                Tier {
                    name: String::new(),
                    ..tier("starter")
                },
                "name",
            ),
            (
                Tier {
                    requests_per_minute: Some(0),
                    ..tier("starter")
                },
                "requests_per_minute",
            ),
        ] {
            let e = expect_err(
                g.admin_create_tier(&h.operator, bad).await,
                ErrorKind::Invalid,
            );
            assert_eq!(e.param(), Some(param));
        }
        expect_err(
            g.admin_create_tier(&h.operator, tier("free")).await,
            ErrorKind::Conflict,
        );

        let created = g
            .admin_create_tier(&h.operator, tier("starter"))
            .await
            .expect("create");
        assert_eq!(created.created_at, common::start_time());
        assert_eq!(created.limit(Unit::Video, Period::Month), Some(3));

        h.advance(Duration::hours(1));
        let replaced = g
            .admin_replace_tier(
                &h.operator,
                "starter",
                Tier {
                    requests_per_minute: None,
                    storage_bytes: LimitValue::Unlimited,
                    created_at: common::start_time() + Duration::days(99),
                    ..tier("starter")
                },
            )
            .await
            .expect("replace");
        assert_eq!(replaced.created_at, common::start_time(), "kept");
        assert_eq!(
            replaced.updated_at,
            common::start_time() + Duration::hours(1)
        );
        assert_eq!(replaced.requests_per_minute, None);
        assert_eq!(
            g.admin_get_tier(&h.operator, "starter").await.expect("get"),
            replaced
        );

        let e = expect_err(
            g.admin_replace_tier(&h.operator, "starter", tier("other"))
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("id"));
        expect_err(
            g.admin_replace_tier(&h.operator, "missing", tier("missing"))
                .await,
            ErrorKind::NotFound,
        );
    });
}

#[test]
fn a_new_tiers_limits_apply_to_agents_on_it() {
    run(async {
        let h = Harness::start().await;
        h.gateway
            .admin_create_tier(&h.operator, tier("starter"))
            .await
            .expect("create");
        let (registered, _) = h.agent("Ada").await;
        h.set_tier(&registered.agent.id, "starter").await;
        let principal = h.login(&registered.key.secret).await;
        h.gateway
            .reserve(&principal, Unit::Video, 3)
            .await
            .expect("three videos");
        let e = expect_err(
            h.gateway.reserve(&principal, Unit::Video, 1).await,
            ErrorKind::QuotaExceeded,
        );
        assert!(e.message().contains("starter"));
    });
}

#[test]
fn a_tier_in_use_cannot_be_deleted() {
    run(async {
        let h = Harness::start().await;
        let g = &h.gateway;
        g.admin_create_tier(&h.operator, tier("starter"))
            .await
            .expect("create");

        // In use by an agent.
        let (registered, _) = h.agent("Ada").await;
        h.set_tier(&registered.agent.id, "starter").await;
        let e = expect_err(
            g.admin_delete_tier(&h.operator, "starter").await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("agents"));
        h.set_tier(&registered.agent.id, "free").await;

        // In use as an instance's default tier.
        g.admin_create_instance(
            &h.operator,
            NewInstance {
                default_tier: Some("starter".to_owned()),
                ..new_instance("acme")
            },
        )
        .await
        .expect("instance");
        let e = expect_err(
            g.admin_delete_tier(&h.operator, "starter").await,
            ErrorKind::Conflict,
        );
        assert!(e.message().contains("acme"));

        // Seeded tiers are protected the same way.
        expect_err(
            g.admin_delete_tier(&h.operator, "free").await,
            ErrorKind::Conflict,
        );
        g.admin_get_tier(&h.operator, "starter")
            .await
            .expect("still there");

        g.admin_update_instance(
            &h.operator,
            "acme",
            InstancePatch {
                default_tier: Some("free".to_owned()),
                ..InstancePatch::default()
            },
        )
        .await
        .expect("update");
        g.admin_delete_tier(&h.operator, "starter")
            .await
            .expect("unused now");
        expect_err(
            g.admin_get_tier(&h.operator, "starter").await,
            ErrorKind::NotFound,
        );
        expect_err(
            g.admin_delete_tier(&h.operator, "starter").await,
            ErrorKind::NotFound,
        );
        // An unused seeded tier can go.
        g.admin_delete_tier(&h.operator, "enterprise")
            .await
            .expect("unused");
    });
}

// ---- agents -----------------------------------------------------------------------------

#[test]
fn agent_updates_validate_tier_and_project() {
    run(async {
        let h = Harness::start().await;
        let (registered, _) = h.agent("Ada").await;
        let id = registered.agent.id.as_str();
        let e = expect_err(
            h.gateway
                .admin_update_agent(
                    &h.operator,
                    id,
                    AgentPatch {
                        tier: Some("platinum".to_owned()),
                        ..AgentPatch::default()
                    },
                )
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("tier"));
        let e = expect_err(
            h.gateway
                .admin_update_agent(
                    &h.operator,
                    id,
                    AgentPatch {
                        name: Some(String::new()),
                        ..AgentPatch::default()
                    },
                )
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("name"));
        expect_err(
            h.gateway
                .admin_update_agent(&h.operator, "agt_missing", AgentPatch::default())
                .await,
            ErrorKind::NotFound,
        );

        let project = create_project(&h, "default", "Films").await;
        h.gateway
            .admin_update_agent(
                &h.operator,
                id,
                AgentPatch {
                    project_id: Some(project),
                    ..AgentPatch::default()
                },
            )
            .await
            .expect("into a project");
        let cleared = h
            .gateway
            .admin_update_agent(
                &h.operator,
                id,
                AgentPatch {
                    project_id: Some(String::new()),
                    ..AgentPatch::default()
                },
            )
            .await
            .expect("an empty string clears the project");
        assert_eq!(cleared.project_id, None);
        let stored = h.stores().agents.get_agent(id).await.expect("get");
        let stored = stored.expect("exists");
        assert_eq!(stored.tier_id, "free");
        assert_eq!(stored.name, "Ada");
    });
}

#[test]
fn agent_lists_page_and_filter() {
    run(async {
        let h = Harness::start().await;
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(h.register(&format!("Agent {i}")).await.agent.id);
        }
        h.set_status(&ids[1], AgentStatus::Suspended).await;
        h.set_tier(&ids[2], "pro").await;

        let list = |request: AgentListRequest| h.gateway.admin_list_agents(&h.operator, request);
        let first = list(AgentListRequest {
            limit: Some(2),
            ..AgentListRequest::default()
        })
        .await
        .expect("page 1");
        assert!(first.has_more);
        assert_eq!(first.data.len(), 2);
        let second = list(AgentListRequest {
            limit: Some(2),
            after: Some(first.data[1].id.clone()),
            ..AgentListRequest::default()
        })
        .await
        .expect("page 2");
        assert!(second.has_more);
        let third = list(AgentListRequest {
            limit: Some(2),
            after: Some(second.data[1].id.clone()),
            ..AgentListRequest::default()
        })
        .await
        .expect("page 3");
        assert!(!third.has_more);
        let paged: Vec<String> = first
            .data
            .iter()
            .chain(&second.data)
            .chain(&third.data)
            .map(|a| a.id.clone())
            .collect();
        assert_eq!(paged, ids, "every agent once, in creation order");

        let exact = list(AgentListRequest {
            limit: Some(5),
            ..AgentListRequest::default()
        })
        .await
        .expect("exact");
        assert!(!exact.has_more, "a full last page has no more");

        let suspended = list(AgentListRequest {
            status: Some("suspended".to_owned()),
            ..AgentListRequest::default()
        })
        .await
        .expect("suspended");
        assert_eq!(suspended.data.len(), 1);
        assert_eq!(suspended.data[0].id, ids[1]);
        let pro = list(AgentListRequest {
            tier_id: Some("pro".to_owned()),
            ..AgentListRequest::default()
        })
        .await
        .expect("pro");
        assert_eq!(pro.data.len(), 1);
        assert_eq!(pro.data[0].id, ids[2]);

        for bad in [
            AgentListRequest {
                limit: Some(0),
                ..AgentListRequest::default()
            },
            AgentListRequest {
                limit: Some(201),
                ..AgentListRequest::default()
            },
            AgentListRequest {
                status: Some("deleted".to_owned()),
                ..AgentListRequest::default()
            },
        ] {
            expect_err(list(bad).await, ErrorKind::Invalid);
        }
        list(AgentListRequest {
            limit: Some(200),
            ..AgentListRequest::default()
        })
        .await
        .expect("the maximum page");
    });
}

#[test]
fn the_page_size_cap_comes_from_the_config() {
    run(async {
        let config = GatewayConfig {
            max_page_size: 3,
            ..GatewayConfig::default()
        };
        let h = Harness::start_with(config, common::start_time()).await;
        let e = expect_err(
            h.gateway
                .admin_list_agents(
                    &h.operator,
                    AgentListRequest {
                        limit: Some(4),
                        ..AgentListRequest::default()
                    },
                )
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("limit"));
    });
}

#[test]
fn deleting_an_agent_removes_its_keys() {
    run(async {
        let h = Harness::start().await;
        let (registered, principal) = h.agent("Ada").await;
        let extra = h
            .gateway
            .create_own_key(&principal, Default::default())
            .await
            .expect("key");
        h.gateway
            .admin_delete_agent(&h.operator, &registered.agent.id)
            .await
            .expect("delete");
        for secret in [&registered.key.secret, &extra.secret] {
            expect_err(
                h.gateway.authenticate_agent(secret).await,
                ErrorKind::Unauthorized,
            );
        }
        let keys = h
            .stores()
            .api_keys
            .list_api_keys(&registered.agent.id)
            .await
            .expect("list");
        assert!(keys.is_empty());
        expect_err(
            h.gateway
                .admin_delete_agent(&h.operator, &registered.agent.id)
                .await,
            ErrorKind::NotFound,
        );
    });
}
