//! The domain's data: plain structs and closed enums, no behaviour that needs a port.

mod agent;
mod instance;
mod key;
mod model;
mod provider_key;
mod quota;
mod tier;

pub use agent::{Agent, AgentPatch, AgentStatus, NewAgent, Project};
pub use instance::{Instance, InstanceSettings, RegistrationMode};
pub use key::{AdminKey, AdminScope, ApiKey};
pub use model::{Modality, ModelConfig, ModelFilter, ModelStatus, Provider};
pub use provider_key::InstanceProviderKey;
pub use quota::{
    PeriodLimit, Reservation, ReservationState, ReserveOutcome, ReserveRequest, UsageCounter,
};
pub use tier::{LimitValue, Period, Tier, TierLimits, Unit};
