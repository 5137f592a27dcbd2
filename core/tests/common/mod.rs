//! Shared setup for the gateway behaviour tests: a `Gateway` over the in-memory store, a manual
//! clock and the in-memory rate limiter, bootstrapped once, with its generated operator key.
//! Every helper fails the test loudly (with `expect`) when the happy path it stands for breaks.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use molts_core::clock::ManualClock;
use molts_core::domain::{AgentPatch, AgentStatus, Instance, NewAgent, RegistrationMode};
use molts_core::gateway::{
    AdminKeyRequest, AdminPrincipal, AgentPrincipal, IssuedAdminKey, NewInstance, Registered,
};
use molts_core::memory::{MemoryRateLimiter, MemoryStore};
use molts_core::secret::LOOKUP_PREFIX_LEN;
use molts_core::{Error, ErrorKind, Gateway, GatewayConfig, Ports, Result, Stores, SystemIds};

/// A fixed start: mid-month, mid-day, on a whole minute (so rate windows start at it).
pub(crate) fn start_time() -> molts_core::Timestamp {
    at(2026, 1, 15, 12, 0, 0)
}

/// A UTC timestamp.
pub(crate) fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> molts_core::Timestamp {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("a valid UTC time")
}

/// Runs one test body to completion (core has no runtime; the executor is enough).
pub(crate) fn run<F: Future<Output = ()>>(body: F) {
    futures::executor::block_on(body);
}

/// The error of a result that must have failed, checked to be of `kind`.
#[track_caller]
pub(crate) fn expect_err<T: Debug>(result: Result<T>, kind: ErrorKind) -> Error {
    let error = result.expect_err("the call should have failed");
    assert_eq!(error.kind(), kind, "unexpected error: {error}");
    error
}

/// Asserts that no stored field holds the clear `secret` or its random tail.
#[track_caller]
pub(crate) fn assert_secret_not_in(secret: &str, stored_fields: &[&str]) {
    let tail = &secret[LOOKUP_PREFIX_LEN..];
    assert!(tail.len() >= 16, "the secret's tail is too short to test");
    for field in stored_fields {
        assert!(!field.contains(secret), "a stored field holds the secret");
        assert!(
            !field.contains(tail),
            "a stored field holds the secret's tail"
        );
    }
}

/// Asserts `secret` is `tag_` followed by 64 lowercase hex digits.
#[track_caller]
pub(crate) fn assert_generated_secret(secret: &str, tag: &str) {
    let rest = secret
        .strip_prefix(tag)
        .and_then(|r| r.strip_prefix('_'))
        .expect("the secret starts with its tag");
    assert_eq!(rest.len(), 64, "256 bits as hex");
    assert!(
        rest.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "lowercase hex"
    );
}

/// A registration request for the default instance.
pub(crate) fn new_agent(name: &str) -> NewAgent {
    NewAgent {
        name: name.to_owned(),
        soul_md: format!("# {name}\nI make short films."),
        ..NewAgent::default()
    }
}

/// A registration request for `instance`.
pub(crate) fn new_agent_in(name: &str, instance: &str) -> NewAgent {
    NewAgent {
        instance: Some(instance.to_owned()),
        ..new_agent(name)
    }
}

/// A gateway, its store and clock, not yet bootstrapped.
pub(crate) fn unbooted(
    config: GatewayConfig,
    start: molts_core::Timestamp,
) -> (Gateway, Arc<MemoryStore>, Arc<ManualClock>) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start));
    let ports = Ports {
        stores: Stores::from_one(store.clone()),
        clock: clock.clone(),
        ids: Arc::new(SystemIds),
        rate_limiter: Arc::new(MemoryRateLimiter::new()),
    };
    (Gateway::new(ports, config), store, clock)
}

/// A bootstrapped gateway with its operator.
pub(crate) struct Harness {
    pub(crate) gateway: Gateway,
    pub(crate) store: Arc<MemoryStore>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) operator: AdminPrincipal,
    pub(crate) operator_token: String,
}

impl Harness {
    /// Bootstrapped at [`start_time`] with the default config.
    pub(crate) async fn start() -> Self {
        Self::start_with(GatewayConfig::default(), start_time()).await
    }

    /// Bootstrapped at `start` with the default config.
    pub(crate) async fn start_at(start: molts_core::Timestamp) -> Self {
        Self::start_with(GatewayConfig::default(), start).await
    }

    /// Bootstrapped at `start` with `config`.
    pub(crate) async fn start_with(config: GatewayConfig, start: molts_core::Timestamp) -> Self {
        let (gateway, store, clock) = unbooted(config, start);
        let report = gateway.bootstrap(None).await.expect("bootstrap");
        let operator_token = report
            .generated_admin_token
            .expect("the first bootstrap generates an operator token");
        let operator = gateway
            .authenticate_admin(&operator_token)
            .await
            .expect("the generated token authenticates");
        Self {
            gateway,
            store,
            clock,
            operator,
            operator_token,
        }
    }

    /// The stores behind the gateway, for looking at what was really kept.
    pub(crate) fn stores(&self) -> &Stores {
        self.gateway.stores()
    }

    /// Moves the clock forward.
    pub(crate) fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// The clock's time.
    pub(crate) fn now(&self) -> molts_core::Timestamp {
        molts_core::Clock::now(self.clock.as_ref())
    }

    /// Registers an agent on the default (open) instance.
    pub(crate) async fn register(&self, name: &str) -> Registered {
        self.gateway
            .register_agent(new_agent(name), None)
            .await
            .expect("open registration")
    }

    /// Authenticates an agent's key.
    pub(crate) async fn login(&self, secret: &str) -> AgentPrincipal {
        self.gateway
            .authenticate_agent(secret)
            .await
            .expect("the key authenticates")
    }

    /// Registers an agent on the default instance and authenticates it.
    pub(crate) async fn agent(&self, name: &str) -> (Registered, AgentPrincipal) {
        let registered = self.register(name).await;
        let principal = self.login(&registered.key.secret).await;
        (registered, principal)
    }

    /// Creates an instance as the operator.
    pub(crate) async fn instance(
        &self,
        id: &str,
        registration: RegistrationMode,
        token: Option<&str>,
    ) -> Instance {
        self.gateway
            .admin_create_instance(
                &self.operator,
                NewInstance {
                    id: id.to_owned(),
                    name: format!("Instance {id}"),
                    registration: Some(registration),
                    registration_token: token.map(str::to_owned),
                    default_tier: None,
                    allowed_models: None,
                    storage_bytes: None,
                },
            )
            .await
            .expect("the operator creates an instance")
    }

    /// Issues an admin key as the operator; `instance_id: None` makes an operator key.
    pub(crate) async fn issue_admin_key(
        &self,
        instance_id: Option<&str>,
        read_only: bool,
        expires_in_days: Option<u32>,
    ) -> IssuedAdminKey {
        self.gateway
            .admin_create_admin_key(
                &self.operator,
                AdminKeyRequest {
                    name: "test key".to_owned(),
                    instance_id: instance_id.map(str::to_owned),
                    read_only,
                    expires_in_days,
                },
            )
            .await
            .expect("the operator issues an admin key")
    }

    /// An authenticated admin of `instance_id` (or another operator when `None`).
    pub(crate) async fn admin(&self, instance_id: Option<&str>, read_only: bool) -> AdminPrincipal {
        let issued = self.issue_admin_key(instance_id, read_only, None).await;
        self.gateway
            .authenticate_admin(&issued.secret)
            .await
            .expect("a fresh admin key authenticates")
    }

    /// Creates an agent on `instance` as `admin`.
    pub(crate) async fn admin_agent(
        &self,
        admin: &AdminPrincipal,
        instance: &str,
        name: &str,
    ) -> Registered {
        self.gateway
            .admin_create_agent(admin, new_agent_in(name, instance))
            .await
            .expect("the admin creates an agent")
    }

    /// Moves an agent to `tier` as the operator.
    pub(crate) async fn set_tier(&self, agent_id: &str, tier: &str) {
        self.gateway
            .admin_update_agent(
                &self.operator,
                agent_id,
                AgentPatch {
                    tier: Some(tier.to_owned()),
                    ..AgentPatch::default()
                },
            )
            .await
            .expect("the operator changes the tier");
    }

    /// Suspends or reactivates an agent as the operator.
    pub(crate) async fn set_status(&self, agent_id: &str, status: AgentStatus) {
        self.gateway
            .admin_update_agent(
                &self.operator,
                agent_id,
                AgentPatch {
                    status: Some(status),
                    ..AgentPatch::default()
                },
            )
            .await
            .expect("the operator changes the status");
    }
}
