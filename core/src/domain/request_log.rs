//! The request log: one record per API request — who, which route, which model and providers,
//! how it ended, how long it took, what it held and charged — written off the request path and
//! queried by admins (their instance) and agents (themselves).
//!
//! Never a secret: keys appear as their id and 16-character lookup prefix, routes as their
//! template (`/v1/callbacks/{job_id}/{token}`, never the token), and bodies not at all unless
//! the operator turned on keeping prompts (truncated).

use serde::Serialize;

use crate::ErrorCode;
use crate::clock::Timestamp;
use crate::domain::{Provider, Unit};

/// How one provider attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderAttempt {
    /// The provider called.
    pub provider: Provider,
    /// The model config it was called for.
    pub model: String,
    /// `None` when it answered; the error's code otherwise.
    pub error: Option<ErrorCode>,
    /// How long the attempt took.
    pub latency_ms: u64,
}

/// Who made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Caller {
    /// Nobody authenticated (registration, callbacks, a refused key).
    Anonymous,
    /// An agent, with its `ml_` key.
    Agent,
    /// An admin, with its `mla_` key.
    Admin,
}

impl Caller {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Agent => "agent",
            Self::Admin => "admin",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Anonymous, Self::Agent, Self::Admin]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One request, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    /// `req_…`, time-ordered: the cursor lists page by and retention deletes by.
    pub id: String,
    /// The request's `x-request-id`, as the client saw it.
    pub request_id: String,
    /// When the request arrived.
    pub at: Timestamp,
    /// The caller's instance, when known.
    pub instance_id: Option<String>,
    /// Who called.
    pub caller: Caller,
    /// The agent, for agent calls.
    pub agent_id: Option<String>,
    /// The key's id (`key_…` or `adm_…`).
    pub key_id: Option<String>,
    /// The key's lookup prefix (never the secret).
    pub key_prefix: Option<String>,
    /// `GET`, `POST`, …
    pub method: String,
    /// The route template matched (`/v1/jobs/{id}`).
    pub route: String,
    /// The model asked for.
    pub model: Option<String>,
    /// The provider that answered, or the last one tried when none did.
    pub provider: Option<Provider>,
    /// Every provider attempt, in order (fallback hops included).
    pub attempts: Vec<ProviderAttempt>,
    /// The HTTP status answered.
    pub status: u16,
    /// The error's code, for errors.
    pub error_code: Option<ErrorCode>,
    /// From arrival to the last byte of the answer.
    pub latency_ms: u64,
    /// The unit held, for metered calls.
    pub unit: Option<Unit>,
    /// Units held.
    pub units_held: u64,
    /// Units charged (0 when refunded).
    pub units_charged: u64,
    /// Whether the answer was streamed.
    pub streamed: bool,
    /// Request body bytes.
    pub bytes_in: u64,
    /// Response body bytes.
    pub bytes_out: u64,
    /// The job the request made or read.
    pub job_id: Option<String>,
    /// The prompt, truncated, only when the operator keeps prompts.
    pub prompt: Option<String>,
}

/// A class of statuses to filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// `2xx`, `4xx`, … (the hundreds digit).
    Class(u16),
    /// One exact status.
    Exact(u16),
}

impl StatusFilter {
    /// Whether `status` passes.
    pub fn accepts(self, status: u16) -> bool {
        match self {
            Self::Class(c) => status / 100 == c,
            Self::Exact(s) => status == s,
        }
    }

    /// The statuses it lets through, as an inclusive range.
    pub fn range(self) -> (u16, u16) {
        match self {
            Self::Class(c) => (c * 100, c * 100 + 99),
            Self::Exact(s) => (s, s),
        }
    }
}

/// Which records to list: every field narrows; newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestQuery {
    /// Only at or after.
    pub from: Option<Timestamp>,
    /// Only before.
    pub to: Option<Timestamp>,
    /// Only this instance's.
    pub instance_id: Option<String>,
    /// Only this agent's.
    pub agent_id: Option<String>,
    /// Only this key's.
    pub key_id: Option<String>,
    /// Only requests for this model.
    pub model: Option<String>,
    /// Only requests this provider answered (or was the last tried for).
    pub provider: Option<Provider>,
    /// Only these statuses.
    pub status: Option<StatusFilter>,
    /// Only this error code.
    pub error_code: Option<ErrorCode>,
    /// Only this job's.
    pub job_id: Option<String>,
    /// Only records with ids before this one.
    pub before: Option<String>,
    /// Page size.
    pub limit: u32,
}

impl RequestQuery {
    /// Whether `r` passes every filter (the memory store's check, and the reference the SQL
    /// stores are tested against).
    pub fn accepts(&self, r: &RequestRecord) -> bool {
        let eq = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        self.from.is_none_or(|f| r.at >= f)
            && self.to.is_none_or(|t| r.at < t)
            && eq(&self.instance_id, &r.instance_id)
            && eq(&self.agent_id, &r.agent_id)
            && eq(&self.key_id, &r.key_id)
            && eq(&self.model, &r.model)
            && eq(&self.job_id, &r.job_id)
            && self.provider.is_none_or(|p| r.provider == Some(p))
            && self.status.is_none_or(|s| s.accepts(r.status))
            && self.error_code.is_none_or(|c| r.error_code == Some(c))
            && self.before.as_ref().is_none_or(|b| r.id < *b)
    }
}

/// Provider attempts as stored: a JSON array of `{provider, model, error, latency_ms}`, the same
/// text on every store.
pub fn attempts_to_json(attempts: &[ProviderAttempt]) -> String {
    serde_json::to_string(attempts).unwrap_or_else(|_| "[]".to_owned())
}

/// Stored attempts read back; `None` when the text is not what [`attempts_to_json`] writes.
pub fn attempts_from_json(text: &str) -> Option<Vec<ProviderAttempt>> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(text).ok()?;
    rows.iter()
        .map(|row| {
            Some(ProviderAttempt {
                provider: Provider::parse(row.get("provider")?.as_str()?)?,
                model: row.get("model")?.as_str()?.to_owned(),
                error: match row.get("error")? {
                    serde_json::Value::Null => None,
                    code => Some(ErrorCode::parse(code.as_str()?)?),
                },
                latency_ms: row.get("latency_ms")?.as_u64()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_round_trip_through_their_stored_text() {
        let attempts = vec![
            ProviderAttempt {
                provider: Provider::Openai,
                model: "gpt-4o".to_owned(),
                error: Some(ErrorCode::ProviderUnavailable),
                latency_ms: 812,
            },
            ProviderAttempt {
                provider: Provider::Demo,
                model: "demo-text".to_owned(),
                error: None,
                latency_ms: 3,
            },
        ];
        let text = attempts_to_json(&attempts);
        assert_eq!(attempts_from_json(&text), Some(attempts));
        assert_eq!(attempts_from_json("[]"), Some(Vec::new()));
        assert_eq!(attempts_from_json(r#"[{"provider":"nope"}]"#), None);
        assert_eq!(attempts_from_json("not json"), None);
    }
}
