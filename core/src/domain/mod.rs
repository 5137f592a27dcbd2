//! The domain's data: plain structs and closed enums, no behaviour that needs a port.

mod agent;
mod artifact;
mod instance;
mod job;
mod key;
mod model;
mod provider_key;
mod quota;
mod request_log;
mod storage;
mod tier;
mod webhook;

pub use agent::{Agent, AgentPatch, AgentStatus, NewAgent, Project};
pub use artifact::{Artifact, ArtifactKind, ArtifactQuery};
pub use instance::{Instance, InstanceSettings, RegistrationMode};
pub use job::{Job, JobError, JobKind, JobQuery, JobStatus};
pub use key::{AdminKey, AdminScope, ApiKey};
pub use model::{Modality, ModelConfig, ModelFilter, ModelStatus, Provider};
pub use provider_key::InstanceProviderKey;
pub use quota::{
    PeriodLimit, RESERVATION_ID_PREFIXES, Reservation, ReservationState, ReserveOutcome,
    ReserveRequest, UsageCounter, reservation_ids_before,
};
pub use request_log::{
    Caller, ProviderAttempt, RequestQuery, RequestRecord, StatusFilter, attempts_from_json,
    attempts_to_json,
};
pub use storage::{StorageLimits, StorageOutcome, StorageScope, StorageUsed};
pub use tier::{LimitValue, Period, Tier, TierLimits, Unit};
pub use webhook::{DeliveryStatus, WebhookDelivery, WebhookEndpoint};
