//! Agent registration: the first key is shown once and only its hash is kept; input is
//! validated; each instance's mode (open, token, admin_only) decides who may register, and an
//! admin may register only into its own instance.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Harness, assert_generated_secret, assert_secret_not_in, expect_err, new_agent, new_agent_in,
    run,
};
use molts_core::ErrorCode;
use molts_core::domain::{AgentStatus, NewAgent, RegistrationMode};
use molts_core::gateway::{InstancePatch, NewInstance, NewProject};
use molts_core::ports::AgentQuery;
use molts_core::{ErrorKind, secret};

const TOKEN: &str = "registration-token-0123456789";

async fn agent_count(h: &Harness) -> usize {
    h.stores()
        .agents
        .list_agents(&AgentQuery {
            limit: 1000,
            ..AgentQuery::default()
        })
        .await
        .expect("list agents")
        .len()
}

#[test]
fn open_registration_returns_the_agent_and_a_key_shown_once() {
    run(async {
        let h = Harness::start().await;
        let registered = h
            .gateway
            .register_agent(
                NewAgent {
                    name: "  Ada  ".to_owned(),
                    email: Some(" Ada@Example.COM ".to_owned()),
                    voice_sample_url: Some("https://voices.test/ada.wav".to_owned()),
                    ..new_agent("Ada")
                },
                None,
            )
            .await
            .expect("register");
        let agent = &registered.agent;
        assert!(agent.id.starts_with("agt_"));
        assert_eq!(agent.instance_id, "default");
        assert_eq!(agent.name, "Ada", "the name is trimmed");
        assert_eq!(agent.email.as_deref(), Some("ada@example.com"));
        assert_eq!(
            agent.voice_sample_ref.as_deref(),
            Some("https://voices.test/ada.wav")
        );
        assert_eq!(agent.tier_id, "free");
        assert_eq!(agent.status, AgentStatus::Active);
        assert_eq!(agent.created_at, common::start_time());

        let secret_text = &registered.key.secret;
        assert_generated_secret(secret_text, "ml");
        assert_eq!(secret_text.len(), 67);
        assert!(registered.key.key.id.starts_with("key_"));
        assert_eq!(registered.key.key.agent_id, agent.id);

        // What the store kept: the lookup prefix and the SHA-256, never the secret.
        let stored = h
            .stores()
            .api_keys
            .list_api_keys(&agent.id)
            .await
            .expect("keys");
        assert_eq!(stored.len(), 1);
        let key = &stored[0];
        assert_eq!(key.prefix, &secret_text[..secret::LOOKUP_PREFIX_LEN]);
        assert_eq!(key.hash, secret::hash(secret_text));
        assert_ne!(&key.hash, secret_text);
        assert_secret_not_in(
            secret_text,
            &[
                &key.id,
                &key.agent_id,
                &key.instance_id,
                &key.name,
                &key.prefix,
                &key.hash,
            ],
        );
        // Serialized keys (what an API would show later) carry no hash and no secret.
        let json = serde_json::to_string(key).expect("json");
        assert!(!json.contains(&key.hash));
        assert!(!json.contains(secret_text.as_str()));

        let principal = h.login(secret_text).await;
        assert_eq!(principal.agent.id, agent.id);
        assert_eq!(principal.key_id, key.id);
        assert_eq!(principal.tier.id, "free");
        assert_eq!(principal.instance.id, "default");
    });
}

#[test]
fn every_registration_gets_a_different_key() {
    run(async {
        let h = Harness::start().await;
        let a = h.register("A").await;
        let b = h.register("B").await;
        assert_ne!(a.key.secret, b.key.secret);
        assert_ne!(a.agent.id, b.agent.id);
        assert_eq!(h.login(&a.key.secret).await.agent.id, a.agent.id);
        assert_eq!(h.login(&b.key.secret).await.agent.id, b.agent.id);
    });
}

#[test]
fn invalid_input_is_refused_naming_the_field_and_stores_nothing() {
    run(async {
        let h = Harness::start().await;
        let cases = [
            (new_agent("   "), "name"),
            (new_agent(&"x".repeat(101)), "name"),
            (
                NewAgent {
                    email: Some("not-an-email".to_owned()),
                    ..new_agent("A")
                },
                "email",
            ),
            (
                NewAgent {
                    voice_sample_url: Some("/relative.wav".to_owned()),
                    ..new_agent("A")
                },
                "voice_sample_url",
            ),
            (
                NewAgent {
                    voice_sample_url: Some("ftp://voices.test/a.wav".to_owned()),
                    ..new_agent("A")
                },
                "voice_sample_url",
            ),
            (
                NewAgent {
                    soul_md: "x".repeat(64 * 1024 + 1),
                    ..new_agent("A")
                },
                "soul_md",
            ),
        ];
        for (request, param) in cases {
            let e = expect_err(
                h.gateway.register_agent(request, None).await,
                ErrorKind::Invalid,
            );
            assert_eq!(e.param(), Some(param));
        }
        assert_eq!(agent_count(&h).await, 0);

        // The limits themselves are allowed.
        h.gateway
            .register_agent(
                NewAgent {
                    soul_md: "x".repeat(64 * 1024),
                    ..new_agent(&"y".repeat(100))
                },
                None,
            )
            .await
            .expect("at the limits");
    });
}

#[test]
fn an_email_is_unique_per_instance_only() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        let with_email = |instance: Option<&str>, email: &str| NewAgent {
            email: Some(email.to_owned()),
            instance: instance.map(str::to_owned),
            ..new_agent("A")
        };
        h.gateway
            .register_agent(with_email(None, "ada@example.com"), None)
            .await
            .expect("first");
        let e = expect_err(
            h.gateway
                .register_agent(with_email(None, "ADA@example.com"), None)
                .await,
            ErrorKind::Conflict,
        );
        assert_eq!(e.param(), Some("email"));
        assert_eq!(agent_count(&h).await, 1, "no half-registered agent left");
        h.gateway
            .register_agent(with_email(Some("acme"), "ada@example.com"), None)
            .await
            .expect("the same email on another instance");
    });
}

#[test]
fn an_unknown_instance_is_not_found() {
    run(async {
        let h = Harness::start().await;
        let e = expect_err(
            h.gateway
                .register_agent(new_agent_in("A", "nowhere"), None)
                .await,
            ErrorKind::NotFound,
        );
        assert_eq!(e.param(), Some("instance"));
    });
}

#[test]
fn new_agents_get_their_instances_default_tier() {
    run(async {
        let h = Harness::start().await;
        h.gateway
            .admin_create_instance(
                &h.operator,
                NewInstance {
                    id: "studio".to_owned(),
                    name: "Studio".to_owned(),
                    registration: None,
                    registration_token: None,
                    default_tier: Some("pro".to_owned()),
                    allowed_models: None,
                    storage_bytes: None,
                },
            )
            .await
            .expect("instance");
        let registered = h
            .gateway
            .register_agent(new_agent_in("A", "studio"), None)
            .await
            .expect("open by default");
        assert_eq!(registered.agent.tier_id, "pro");
        assert_eq!(h.login(&registered.key.secret).await.tier.id, "pro");
    });
}

#[test]
fn token_registration_needs_the_right_token() {
    run(async {
        let h = Harness::start().await;
        h.instance("club", RegistrationMode::Token, Some(TOKEN))
            .await;

        let e = expect_err(
            h.gateway
                .register_agent(new_agent_in("A", "club"), None)
                .await,
            ErrorKind::Forbidden,
        );
        assert_eq!(e.code(), Some(ErrorCode::RegistrationTokenRequired));
        assert_eq!(e.param(), Some("registration_token"));

        for wrong in ["nope", "registration-token-012345678", ""] {
            let e = expect_err(
                h.gateway
                    .register_agent(
                        NewAgent {
                            registration_token: Some(wrong.to_owned()),
                            ..new_agent_in("A", "club")
                        },
                        None,
                    )
                    .await,
                ErrorKind::Forbidden,
            );
            assert_eq!(e.code(), Some(ErrorCode::RegistrationTokenInvalid));
            assert_eq!(e.param(), Some("registration_token"));
        }
        assert_eq!(agent_count(&h).await, 0);

        let registered = h
            .gateway
            .register_agent(
                NewAgent {
                    registration_token: Some(TOKEN.to_owned()),
                    ..new_agent_in("A", "club")
                },
                None,
            )
            .await
            .expect("the right token");
        assert_eq!(registered.agent.instance_id, "club");
    });
}

#[test]
fn the_registration_token_is_stored_hashed_and_can_be_rotated() {
    run(async {
        let h = Harness::start().await;
        h.instance("club", RegistrationMode::Token, Some(TOKEN))
            .await;
        let stored = h
            .stores()
            .instances
            .get_instance("club")
            .await
            .expect("get")
            .expect("exists");
        let hash = stored
            .settings
            .registration_token_hash
            .clone()
            .expect("a hash is kept");
        assert_eq!(hash, secret::hash(TOKEN));
        let json = serde_json::to_string(&stored).expect("json");
        assert!(!json.contains(TOKEN) && !json.contains(&hash));

        let rotated = "a-brand-new-registration-token";
        h.gateway
            .admin_update_instance(
                &h.operator,
                "club",
                InstancePatch {
                    registration_token: Some(rotated.to_owned()),
                    ..InstancePatch::default()
                },
            )
            .await
            .expect("rotate");
        let with = |token: &str| NewAgent {
            registration_token: Some(token.to_owned()),
            ..new_agent_in("A", "club")
        };
        let e = expect_err(
            h.gateway.register_agent(with(TOKEN), None).await,
            ErrorKind::Forbidden,
        );
        assert_eq!(e.code(), Some(ErrorCode::RegistrationTokenInvalid));
        h.gateway
            .register_agent(with(rotated), None)
            .await
            .expect("the new token");
    });
}

#[test]
fn token_mode_needs_a_long_enough_token() {
    run(async {
        let h = Harness::start().await;
        let create = |token: Option<&str>| NewInstance {
            id: "club".to_owned(),
            name: "Club".to_owned(),
            registration: Some(RegistrationMode::Token),
            registration_token: token.map(str::to_owned),
            default_tier: None,
            allowed_models: None,
            storage_bytes: None,
        };
        let e = expect_err(
            h.gateway
                .admin_create_instance(&h.operator, create(None))
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("registration_token"));
        let e = expect_err(
            h.gateway
                .admin_create_instance(&h.operator, create(Some("fifteen-chars!!")))
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("registration_token"));
        let missing = h.stores().instances.get_instance("club").await;
        assert!(missing.expect("get").is_none());

        // Switching an open instance to token mode without a token is refused too.
        h.instance("open", RegistrationMode::Open, None).await;
        let e = expect_err(
            h.gateway
                .admin_update_instance(
                    &h.operator,
                    "open",
                    InstancePatch {
                        registration: Some(RegistrationMode::Token),
                        ..InstancePatch::default()
                    },
                )
                .await,
            ErrorKind::Invalid,
        );
        assert_eq!(e.param(), Some("registration_token"));
        h.gateway
            .register_agent(new_agent_in("A", "open"), None)
            .await
            .expect("still open");
    });
}

#[test]
fn admin_only_refuses_anonymous_but_allows_that_instances_admin() {
    run(async {
        let h = Harness::start().await;
        h.instance("closed", RegistrationMode::AdminOnly, None)
            .await;
        let e = expect_err(
            h.gateway
                .register_agent(new_agent_in("A", "closed"), None)
                .await,
            ErrorKind::Forbidden,
        );
        assert_eq!(e.code(), Some(ErrorCode::RegistrationClosed));
        // A registration token does not open it.
        expect_err(
            h.gateway
                .register_agent(
                    NewAgent {
                        registration_token: Some(TOKEN.to_owned()),
                        ..new_agent_in("A", "closed")
                    },
                    None,
                )
                .await,
            ErrorKind::Forbidden,
        );
        assert_eq!(agent_count(&h).await, 0);

        // Its admin creates agents, into its own instance by default.
        let admin = h.admin(Some("closed"), false).await;
        let created = h
            .gateway
            .admin_create_agent(&admin, new_agent("By admin"))
            .await
            .expect("the instance's admin");
        assert_eq!(created.agent.instance_id, "closed");
        assert_eq!(h.login(&created.key.secret).await.instance.id, "closed");

        // So does the operator.
        let by_operator = h.admin_agent(&h.operator, "closed", "By operator").await;
        assert_eq!(by_operator.agent.instance_id, "closed");
    });
}

#[test]
fn an_admin_registers_only_into_its_own_instance_and_only_when_writable() {
    run(async {
        let h = Harness::start().await;
        h.instance("closed", RegistrationMode::AdminOnly, None)
            .await;
        h.instance("other", RegistrationMode::AdminOnly, None).await;
        let other_admin = h.admin(Some("other"), false).await;
        expect_err(
            h.gateway
                .admin_create_agent(&other_admin, new_agent_in("A", "closed"))
                .await,
            ErrorKind::NotFound,
        );
        // Even an open instance is not reachable with another tenant's admin key.
        expect_err(
            h.gateway
                .register_agent(new_agent_in("A", "default"), Some(&other_admin))
                .await,
            ErrorKind::NotFound,
        );

        let read_only = h.admin(Some("closed"), true).await;
        expect_err(
            h.gateway
                .admin_create_agent(&read_only, new_agent("A"))
                .await,
            ErrorKind::Forbidden,
        );
        assert_eq!(agent_count(&h).await, 0);
    });
}

#[test]
fn a_project_must_belong_to_the_instance_joined() {
    run(async {
        let h = Harness::start().await;
        h.instance("acme", RegistrationMode::Open, None).await;
        let project_of = |instance: &str| NewProject {
            instance_id: Some(instance.to_owned()),
            name: format!("{instance} films"),
            description: None,
        };
        let home = h
            .gateway
            .admin_create_project(&h.operator, project_of("default"))
            .await
            .expect("project");
        let foreign = h
            .gateway
            .admin_create_project(&h.operator, project_of("acme"))
            .await
            .expect("project");

        let with_project = |id: &str| NewAgent {
            project_id: Some(id.to_owned()),
            ..new_agent("A")
        };
        let registered = h
            .gateway
            .register_agent(with_project(&home.id), None)
            .await
            .expect("same instance");
        assert_eq!(
            registered.agent.project_id.as_deref(),
            Some(home.id.as_str())
        );
        for bad in [foreign.id.as_str(), "prj_missing"] {
            let e = expect_err(
                h.gateway.register_agent(with_project(bad), None).await,
                ErrorKind::NotFound,
            );
            assert_eq!(e.param(), Some("project_id"));
        }
        assert_eq!(agent_count(&h).await, 1);
    });
}

#[test]
fn registrations_without_an_admin_key_are_limited_per_client_address() {
    run(async {
        use molts_core::gateway::REGISTRATIONS_PER_WINDOW;
        use std::net::IpAddr;
        let h = Harness::start().await;
        let here: IpAddr = "81.2.69.160".parse().unwrap();
        let register = |name: String, client: Option<IpAddr>| {
            let gateway = h.gateway.clone();
            async move {
                gateway
                    .register_agent_from(new_agent(&name), None, client)
                    .await
            }
        };
        for n in 0..REGISTRATIONS_PER_WINDOW {
            register(format!("a{n}"), Some(here)).await.unwrap();
        }
        let refused = expect_err(
            register("one more".into(), Some(here)).await,
            ErrorKind::RateLimited,
        );
        assert_eq!(refused.code(), Some(ErrorCode::RateLimitExceeded));
        assert!(refused.retry_after().is_some());
        // The same address written as IPv4-mapped IPv6 is the same client.
        let mapped: IpAddr = "::ffff:81.2.69.160".parse().unwrap();
        expect_err(
            register("mapped".into(), Some(mapped)).await,
            ErrorKind::RateLimited,
        );
        // Other addresses, admins and callers whose address is unknown are not held back.
        register("elsewhere".into(), Some("1.1.1.1".parse().unwrap()))
            .await
            .unwrap();
        register("unknown".into(), None).await.unwrap();
        // A loopback or private peer is a proxy in front of molts, not one client.
        for n in 0..=REGISTRATIONS_PER_WINDOW {
            for proxy in ["127.0.0.1", "10.0.0.2", "::1"] {
                register(format!("behind {proxy} {n}"), Some(proxy.parse().unwrap()))
                    .await
                    .unwrap();
            }
        }
        let admin = h.admin(None, false).await;
        h.gateway
            .register_agent_from(new_agent("by admin"), Some(&admin), Some(here))
            .await
            .unwrap();
        // An IPv6 client's /64 counts as one address.
        for n in 0..REGISTRATIONS_PER_WINDOW {
            let addr: IpAddr = format!("2a00:1450:4001:2::{n:x}").parse().unwrap();
            register(format!("v6-{n}"), Some(addr)).await.unwrap();
        }
        expect_err(
            register(
                "v6 more".into(),
                Some("2a00:1450:4001:2::ffff".parse().unwrap()),
            )
            .await,
            ErrorKind::RateLimited,
        );
        // The next window allows again.
        h.advance(chrono::Duration::seconds(60));
        register("later".into(), Some(here)).await.unwrap();
    });
}
